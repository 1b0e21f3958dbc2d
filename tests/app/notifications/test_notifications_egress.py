"""The push endpoint rules (app/notifications/egress.py) with a resolver the test controls:
public addresses only, after resolution, at registration and for every connection the
sender opens (DNS rebinding), never a redirect. No test here needs the internet."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from app.config import ConfigError, Settings
from app.notifications.egress import (
    PushEndpointInvalid,
    PushEndpointNotAllowed,
    PushEndpointUnresolvable,
    PushGuard,
    host_matches,
    is_public,
)

PUBLIC = "93.184.216.34"


class Resolver:
    """Answers what the test says, and counts the questions."""

    def __init__(self, answers: dict[str, Sequence[str]]) -> None:
        self.answers = dict(answers)
        self.asked: list[str] = []

    async def __call__(self, host: str, port: int) -> Sequence[str]:
        self.asked.append(host)
        if host not in self.answers:
            raise OSError("no such host")
        return self.answers[host]


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.0.1", "192.168.1.1", "100.64.0.1",
        "169.254.169.254", "0.0.0.0", "224.0.0.1", "239.255.255.250", "255.255.255.255",  # noqa: S104
        "192.0.0.1", "192.0.2.1", "198.18.0.1", "240.0.0.1",
        "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1", "ff0e::1", "fec0::1",
        "2001:db8::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254",
        "64:ff9b::a00:1", "64:ff9b::7f00:1", "2002:7f00:1::", "2002:a00:1::",
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    ],
)  # fmt: skip
def test_non_public_addresses(address: str) -> None:
    assert not is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(
    "address", [PUBLIC, "8.8.8.8", "2606:4700::1111", "2a00:1450:4001::200e", "::ffff:8.8.8.8"]
)
def test_public_addresses(address: str) -> None:
    assert is_public(ipaddress.ip_address(address))


def test_the_allow_list_matches_whole_labels() -> None:
    allowed = ("push.services.mozilla.com", "fcm.googleapis.com", "*.notify.windows.com")
    assert host_matches("push.services.mozilla.com", allowed)
    assert host_matches("updates.push.services.mozilla.com", allowed)
    assert host_matches("wns2-par02p.notify.windows.com", allowed)
    assert not host_matches("notify.windows.com", allowed)
    assert not host_matches("evilpush.services.mozilla.com", allowed)
    assert not host_matches("fcm.googleapis.com.evil.example", allowed)
    assert not host_matches("googleapis.com", allowed)


async def test_every_resolved_address_must_be_public() -> None:
    resolver = Resolver(
        {
            "push.example.com": [PUBLIC, "2606:4700::1111"],
            "internal.example.com": ["10.0.0.7"],
            "mixed.example.com": [PUBLIC, "127.0.0.1"],
            "mapped.example.com": ["::ffff:127.0.0.1"],
            "metadata.example.com": ["169.254.169.254"],
        }
    )
    guard = PushGuard(resolver=resolver)
    assert [str(a) for a in await guard.check("https://push.example.com/w/1")] == [
        PUBLIC,
        "2606:4700::1111",
    ]
    for host in ("internal", "mixed", "mapped", "metadata"):
        with pytest.raises(PushEndpointNotAllowed):
            await guard.check(f"https://{host}.example.com/w/1")
    with pytest.raises(PushEndpointUnresolvable):
        await guard.check("https://gone.example.com/w/1")


async def test_the_shape_is_checked_before_anything_resolves() -> None:
    resolver = Resolver({"push.example.com": [PUBLIC]})
    guard = PushGuard(resolver=resolver)
    not_allowed = [
        "https://push.example.com:8443/w", "https://push.example.com:80/w",
        "https://0x7f000001/w", "https://2130706433/w", "https://0177.0.0.1/w",
        "https://127.1/w", "https://0x7f.0.0.1/w", "https://10.0.0.1/w", "https://[::1]/w",
    ]  # fmt: skip
    for url in not_allowed:
        with pytest.raises(PushEndpointNotAllowed):
            await guard.check(url)
    invalid = [
        "http://push.example.com/w", "ftp://push.example.com/w", "https:///w",
        "https://user:pw@push.example.com/w", "https://push.example.com/w#x",
        "https://[fe80::1%25eth0]/w", "https://push.exa mple.com/w", "https://pü.example/w",
        "https://push.example.com/w\x00", "https://push_example.com/w",
        "https://push.example.com:99999/w",
    ]  # fmt: skip
    for url in invalid:
        with pytest.raises(PushEndpointInvalid):
            await guard.check(url)
    assert resolver.asked == []


async def test_the_allow_list_applies_before_resolution_too() -> None:
    resolver = Resolver({"fcm.googleapis.com": [PUBLIC], "evil.example.com": [PUBLIC]})
    guard = PushGuard(["fcm.googleapis.com"], resolver=resolver)
    await guard.check("https://fcm.googleapis.com/fcm/send/x")
    for url in ("https://evil.example.com/x", f"https://{PUBLIC}/x"):
        with pytest.raises(PushEndpointNotAllowed):
            await guard.check(url)
    assert resolver.asked == ["fcm.googleapis.com"]


async def test_the_loopback_opt_in_admits_loopback_hosts_only() -> None:
    resolver = Resolver({"localhost": ["127.0.0.1", "::1"], "push.example.com": ["127.0.0.1"]})
    guard = PushGuard(allow_loopback=True, resolver=resolver)
    await guard.check("http://127.0.0.1:5555/push/1")
    await guard.check("https://[::1]:8443/push/1")
    await guard.check("http://localhost:5555/push/1")
    for url in ("http://10.0.0.1:5555/x", "http://push.example.com:5555/x"):
        with pytest.raises(PushEndpointInvalid):  # http is for the loopback stand-in only
            await guard.check(url)
    with pytest.raises(PushEndpointNotAllowed):  # a name is not loopback by its answer
        await guard.check("https://push.example.com/x")
    resolver.answers["localhost"] = ["127.0.0.1", "10.0.0.1"]
    with pytest.raises(PushEndpointNotAllowed):
        await guard.check("http://localhost:5555/push/1")


def test_the_settings_refuse_the_opt_in_in_production() -> None:
    production = {
        "env": "production",
        "secret_key": "x" * 40,
        "vapid_private_key": "A" * 43,
        "vapid_subject": "mailto:ops@example.fi",
        "server_name": "kaari.example.fi",
    }
    with pytest.raises(ConfigError, match="KAARI_PUSH_ALLOW_LOOPBACK"):
        Settings(**production, push_allow_loopback=True).check()  # type: ignore[arg-type]
    for bad in ("push.example.com,https://x.example", "*.", "a..b", "exa mple.com"):
        with pytest.raises(ConfigError, match="KAARI_PUSH_ALLOWED_HOSTS"):
            Settings(push_allowed_hosts=bad).check()
    allowed = "push.services.mozilla.com, fcm.googleapis.com,*.notify.windows.com"
    assert Settings(push_allowed_hosts=allowed).check().push_allowed_hosts == allowed
    settings = Settings.from_env({"KAARI_PUSH_ALLOW_LOOPBACK": "true"})
    assert settings.push_allow_loopback is True
    assert PushGuard.from_settings(settings).allow_loopback is True


# the sender's client: connects to what it checked, and only to that


class Recorder:
    """An HTTP server on a loopback address, recording each request's Host header."""

    def __init__(self, host: str, status: int = 201, location: str | None = None) -> None:
        self.hosts: list[str] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                recorder.hosts.append(self.headers.get("host", ""))
                self.send_response(status)
                if location:
                    self.send_header("location", location)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    r = Recorder("127.0.0.2")  # where the system resolver never sends "localhost"
    yield r
    r.close()


async def test_the_client_connects_to_the_address_it_checked(recorder: Recorder) -> None:
    resolver = Resolver({"localhost": ["127.0.0.2"]})
    guard = PushGuard(allow_loopback=True, resolver=resolver)
    async with guard.client(5) as http:
        r = await http.post(f"http://localhost:{recorder.port}/push/1", content=b"x")
    assert r.status_code == 201
    # the host name stays in the request; the connection went to the resolver's answer
    assert recorder.hosts == [f"localhost:{recorder.port}"]
    assert resolver.asked == ["localhost"]


async def test_a_host_rebound_to_an_internal_address_is_never_connected_to(
    recorder: Recorder,
) -> None:
    resolver = Resolver({"push.example.com": [PUBLIC]})
    guard = PushGuard(resolver=resolver)
    await guard.check("https://push.example.com/w/1")  # registration: public, accepted
    async with guard.client(5) as http:
        for answer in (["127.0.0.2"], [PUBLIC, "127.0.0.2"], ["::ffff:127.0.0.2"], ["10.0.0.1"]):
            resolver.answers["push.example.com"] = answer
            with pytest.raises(PushEndpointNotAllowed):
                await http.post("https://push.example.com/w/1", content=b"x")
        # and a URL that was never checked cannot reach the pool either
        with pytest.raises(PushEndpointNotAllowed):
            await http.post("https://127.0.0.2/push/1", content=b"x")
    assert recorder.hosts == []
    assert resolver.asked == ["push.example.com"] * 5


async def test_redirects_are_not_followed(recorder: Recorder) -> None:
    redirector = Recorder(
        "127.0.0.2", status=307, location=f"http://127.0.0.2:{recorder.port}/push/1"
    )
    try:
        guard = PushGuard(allow_loopback=True, resolver=Resolver({}))
        async with guard.client(5) as http:
            r = await http.post(f"http://127.0.0.2:{redirector.port}/push/1", content=b"x")
        assert r.status_code == 307
        assert len(redirector.hosts) == 1
        assert recorder.hosts == []
    finally:
        redirector.close()
