"""ICE servers for WebRTC peers: STUN, and TURN with coturn REST credentials.

coturn's "TURN REST API" scheme (``use-auth-secret``): the username is
``<expiry unix time>:<user id>`` and the password is
``base64(HMAC-SHA1(secret, username))``. coturn recomputes the password from its
``static-auth-secret`` lines and refuses an expired username, so Kaari and coturn
share only the secret, never a user table. With several secrets configured, the
first signs and coturn (given all of them) accepts any: add the new secret to
coturn, then put it first in ``KAARI_TURN_SECRETS``, then drop the old one from
both once the longest credential lifetime has passed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime

from signaling.ports import Settings
from signaling.schemas import IceServer, IceServersOut


def turn_credential(secret: str, user: str, expires: int) -> tuple[str, str]:
    """The (username, password) pair coturn accepts for ``user`` until ``expires``."""
    username = f"{expires}:{user}"
    digest = hmac.new(secret.encode("utf-8"), username.encode("utf-8"), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")


def verify_turn_credential(secrets: list[str], username: str, password: str, now: int) -> bool:
    """What coturn does: any configured secret, and the expiry not yet passed."""
    expires, sep, _ = username.partition(":")
    if not sep or not expires.isdigit() or int(expires) <= now:
        return False
    for secret in secrets:
        _, expected = turn_credential(secret, username.partition(":")[2], int(expires))
        if hmac.compare_digest(expected, password):
            return True
    return False


def stun_urls(settings: Settings) -> list[str]:
    urls = [f"stun:{settings.turn_host}:{settings.turn_port}"] if settings.turn_host else []
    return urls + [url for url in settings.stun_url_list if url not in urls]


def turn_urls(settings: Settings) -> list[str]:
    host = settings.turn_host
    urls = [
        f"turn:{host}:{settings.turn_port}?transport=udp",
        f"turn:{host}:{settings.turn_port}?transport=tcp",
    ]
    if settings.turn_tls_port:
        urls.append(f"turns:{host}:{settings.turn_tls_port}?transport=tcp")
    return urls


def ice_servers(settings: Settings, user: str, now: float) -> IceServersOut:
    """STUN (if any) and, when TURN is configured, TURN with a fresh credential for ``user``."""
    servers: list[IceServer] = []
    stun = stun_urls(settings)
    if stun:
        servers.append(IceServer(urls=stun))
    secrets = settings.turn_secret_list
    if not settings.turn_host or not secrets:
        return IceServersOut(ice_servers=servers, relay=False, expires_at=None, ttl_seconds=None)
    ttl = settings.turn_credential_ttl_seconds
    expires = int(now) + ttl
    username, password = turn_credential(secrets[0], user, expires)
    servers.append(IceServer(urls=turn_urls(settings), username=username, credential=password))
    return IceServersOut(
        ice_servers=servers,
        relay=True,
        expires_at=datetime.fromtimestamp(expires, UTC),
        ttl_seconds=ttl,
    )
