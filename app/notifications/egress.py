"""Where the push sender may connect (DESIGN.md section 10): a push endpoint is a user's
URL, so it is checked like one from an attacker.

The rule: ``https`` on port 443, a host on ``KAARI_PUSH_ALLOWED_HOSTS`` when that list
is set, and every address the host resolves to public (not loopback, private, link-local,
unique-local, multicast, unspecified, reserved, shared or documentation space, nor an
IPv4-mapped, 6to4 or NAT64 address that embeds one of those). Numeric hosts other than a
plain dotted quad (``0x7f000001``, ``2130706433``, ``0177.0.0.1``, ``127.1``) are refused
before anything resolves them. In development ``KAARI_PUSH_ALLOW_LOOPBACK`` admits a
local stand-in (``http`` or ``https``, any port) on a loopback host, and only there.

The check runs twice: when a subscription is registered, and again for every connection
the sender opens (``PushGuard.client``): the transport resolves the host, checks every
address, and connects to the checked address itself (the URL keeps the host name, so the
``Host`` header, SNI and certificate check are the push service's). A name that resolved
to a public address at registration and to an internal one later (DNS rebinding) is
refused before any connection. Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from collections.abc import Awaitable, Callable, Iterable, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from app.config import Settings
from app.core.errors import InvalidInput

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], Awaitable[Sequence[str]]]
"""``(host, port) -> addresses``: the system's resolver, or a test's."""

RESOLVE_TIMEOUT = 5.0
PUSH_PORT = 443
MAX_ENDPOINT = 1024
_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
# what inet_aton would read as an address: 1-4 parts of decimal, octal or hex digits
_NUMERIC_HOST = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}\.?$")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class PushEndpointError(InvalidInput):
    """A push endpoint the rules refuse (422 at registration; never connected to)."""


class PushEndpointInvalid(PushEndpointError):
    code, title = "push_endpoint_invalid", "Not a push endpoint"


class PushEndpointNotAllowed(PushEndpointError):
    code, title = "push_endpoint_not_allowed", "This push endpoint is not allowed"


class PushEndpointUnresolvable(PushEndpointError):
    code, title = "push_endpoint_unresolvable", "The push endpoint's host does not resolve"


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    return [str(info[4][0]) for info in infos]


def _embedded(ip: Address) -> Address:
    """The IPv4 address an IPv6 one stands for (mapped, NAT64), else itself."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return ip.ipv4_mapped
        if ip in _NAT64:
            return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip


def is_loopback(ip: Address) -> bool:
    return _embedded(ip).is_loopback


def is_public(ip: Address) -> bool:
    """A globally routable unicast address: ``is_global`` and none of the special ranges
    (Python's ``is_global`` alone lets multicast and some IPv6 tunnels through)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id or ip.teredo is not None:
            return False
        if ip.sixtofour is not None and not is_public(ip.sixtofour):
            return False
    ip = _embedded(ip)
    special = (
        ip.is_unspecified
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_private
        or ip.is_reserved
        or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local)
    )
    return ip.is_global and not special


def host_matches(host: str, allowed: Iterable[str]) -> bool:
    """``push.example`` allows that host and its subdomains; ``*.push.example`` only its
    subdomains. Matching is by whole labels, never by a raw string suffix."""
    for entry in allowed:
        if entry.startswith("*."):
            if host.endswith("." + entry[2:]):
                return True
        elif host == entry or host.endswith("." + entry):
            return True
    return False


def allowed_host_list(text: str) -> tuple[str, ...]:
    return tuple(p.strip().lower().rstrip(".") for p in text.split(",") if p.strip())


@dataclass(frozen=True, slots=True)
class Target:
    scheme: str
    host: str  # lower case, no brackets, no trailing dot
    port: int
    literal: Address | None
    local: bool  # the development stand-in's case: loopback opted in, loopback host


class PushGuard:
    """The push endpoint rules of this instance, with the resolver they use."""

    def __init__(
        self,
        allowed_hosts: Sequence[str] = (),
        *,
        allow_loopback: bool = False,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.allowed_hosts = tuple(allowed_hosts)
        self.allow_loopback = allow_loopback
        self.resolver = resolver

    @classmethod
    def from_settings(cls, settings: Settings, resolver: Resolver = system_resolver) -> PushGuard:
        return cls(
            allowed_host_list(settings.push_allowed_hosts),
            allow_loopback=settings.push_allow_loopback,
            resolver=resolver,
        )

    # the checks

    def parse(self, url: str) -> Target:
        """The rules that need no resolution; raises ``PushEndpoint*`` errors."""
        invalid = PushEndpointInvalid("A push endpoint is an https:// URL of a push service")
        if len(url) > MAX_ENDPOINT or not url.isascii() or not url.isprintable() or " " in url:
            raise invalid
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise invalid from None
        host = (parts.hostname or "").rstrip(".")
        if (
            parts.scheme not in ("https", "http")
            or not host
            or parts.username is not None
            or parts.password is not None
            or parts.fragment
            or "%" in host
        ):
            raise invalid
        try:
            literal: Address | None = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        local = self.allow_loopback and (
            host == "localhost" or (literal is not None and is_loopback(literal))
        )
        if parts.scheme == "http" and not local:
            raise invalid
        default_port = 443 if parts.scheme == "https" else 80
        target = Target(parts.scheme, host, port or default_port, literal, local)
        if local:
            return target
        if literal is None:
            if _NUMERIC_HOST.match(host):
                raise PushEndpointNotAllowed("A push endpoint's host is a name or a plain address")
            if len(host) > 253 or not all(_LABEL.match(label) for label in host.split(".")):
                raise invalid
        if target.port != PUSH_PORT:
            raise PushEndpointNotAllowed("A push endpoint is on port 443")
        if self.allowed_hosts and not host_matches(host, self.allowed_hosts):
            raise PushEndpointNotAllowed("This server sends to its listed push services only")
        if literal is not None:
            self.check_addresses(target, [literal])
        return target

    def check_addresses(self, target: Target, addresses: Sequence[Address]) -> None:
        """Every address must be public (loopback, for the opted-in local stand-in)."""
        if not addresses:
            raise PushEndpointUnresolvable()
        ok = is_loopback if target.local else is_public
        if not all(ok(a) for a in addresses):
            raise PushEndpointNotAllowed("A push endpoint must be on a public address")

    async def resolve(self, target: Target) -> list[Address]:
        """The target's checked addresses (a literal is its own)."""
        if target.literal is not None:
            addresses: list[Address] = [target.literal]
        else:
            try:
                async with asyncio.timeout(RESOLVE_TIMEOUT):
                    found = await self.resolver(target.host, target.port)
                addresses = [ipaddress.ip_address(a) for a in found]
            except (OSError, TimeoutError, ValueError):
                raise PushEndpointUnresolvable() from None
        self.check_addresses(target, addresses)
        return addresses

    async def check(self, url: str) -> list[Address]:
        """The whole check of a registration: parse, resolve, every address allowed."""
        return await self.resolve(self.parse(url))

    # the sender's HTTP client

    def client(self, timeout: float) -> httpx.AsyncClient:
        """An HTTP client that connects only to checked addresses and never follows a
        redirect (nor an environment proxy)."""
        return httpx.AsyncClient(
            transport=GuardedTransport(self),
            follow_redirects=False,
            trust_env=False,
            timeout=timeout,
        )


_pinned: ContextVar[tuple[str, int, list[Address]] | None] = ContextVar(
    "kaari_push_pinned", default=None
)


class GuardedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport whose connection pool connects through ``_CheckedBackend``:
    each request is checked and resolved here, and the pool's new connections go to
    those addresses only (``_pool`` is httpx's own pool attribute, replaced by one that
    is built the same way but with the checking network backend)."""

    def __init__(self, guard: PushGuard) -> None:
        super().__init__(trust_env=False, retries=0)
        self.guard = guard
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            http1=True,
            http2=False,
            retries=0,
            network_backend=_CheckedBackend(),
        )

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        target = self.guard.parse(str(request.url))
        addresses = await self.guard.resolve(target)
        token = _pinned.set((request.url.host, target.port, addresses))
        try:
            return await super().handle_async_request(request)
        finally:
            _pinned.reset(token)


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    """Opens a connection only to the addresses the current request checked."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        pinned = _pinned.get()
        if pinned is None or pinned[0].lower().strip("[]") != host.lower().strip("[]"):
            raise PushEndpointNotAllowed("A connection to an unchecked address")
        if pinned[1] != port:
            raise PushEndpointNotAllowed("A connection to an unchecked port")
        error: Exception = httpcore.ConnectError("no address")
        for address in pinned[2]:
            try:
                return await self._inner.connect_tcp(
                    str(address),
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise PushEndpointNotAllowed("A push endpoint is never a local socket")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)
