"""GET /rtc/ice-servers: STUN and TURN URLs, coturn REST credentials, rotation, config."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from datetime import datetime
from pathlib import Path

import pytest
from signaling_support import OLD_TURN_SECRET, TURN_SECRET, app_settings, signed_in
from support import assert_problem

from app.config import ConfigError, Settings
from signaling.ice import ice_servers, turn_credential, verify_turn_credential


def coturn_password(secret: str, username: str) -> str:
    """What coturn computes for use-auth-secret (written out here, independently)."""
    mac = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def turn_settings(sqlite_template: Path, tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "turn_host": "turn.example.fi",
        "turn_secrets": f"{TURN_SECRET},{OLD_TURN_SECRET}",
    }
    values.update(overrides)
    return app_settings(sqlite_template, tmp_path, **values)


def test_no_token_is_401(sqlite_template: Path, tmp_path: Path) -> None:
    with signed_in(turn_settings(sqlite_template, tmp_path)) as (client, _):
        assert_problem(client.get("/rtc/ice-servers"), 401, "unauthenticated")
        r = client.get("/rtc/ice-servers", headers={"authorization": "Bearer nope"})
        assert_problem(r, 401, "session_invalid")


def test_turn_credentials_verify_with_hmac_sha1_of_the_first_secret(
    sqlite_template: Path, tmp_path: Path
) -> None:
    with signed_in(turn_settings(sqlite_template, tmp_path)) as (client, session):
        before = int(time.time())
        r = client.get("/rtc/ice-servers", headers=session.headers)
        assert r.status_code == 200, r.text
    body = r.json()
    assert body["relay"] is True
    assert body["ttlSeconds"] == 3600
    stun, turn = body["iceServers"]
    assert stun == {"urls": ["stun:turn.example.fi:3478"]}
    assert turn["urls"] == [
        "turn:turn.example.fi:3478?transport=udp",
        "turn:turn.example.fi:3478?transport=tcp",
        "turns:turn.example.fi:443?transport=tcp",
    ]
    expiry, _, user = turn["username"].partition(":")
    assert user == str(session.user_id)
    assert before + 3600 <= int(expiry) <= int(time.time()) + 3600
    assert datetime.fromisoformat(body["expiresAt"]).timestamp() == int(expiry)
    assert turn["credential"] == coturn_password(TURN_SECRET, turn["username"])
    assert turn["credential"] != coturn_password(OLD_TURN_SECRET, turn["username"])


def test_rotation_signs_with_the_first_secret_and_coturn_accepts_all() -> None:
    now = int(time.time())
    new = Settings(turn_host="t.example.fi", turn_secrets=f"{TURN_SECRET}, {OLD_TURN_SECRET}")
    old = Settings(turn_host="t.example.fi", turn_secrets=OLD_TURN_SECRET)
    issued_before = ice_servers(old, "u1", now).ice_servers[-1]
    issued_after = ice_servers(new, "u1", now).ice_servers[-1]
    assert issued_after.credential == coturn_password(TURN_SECRET, issued_after.username or "")
    accepted = new.turn_secret_list  # what coturn's static-auth-secret lines hold meanwhile
    for cred in (issued_before, issued_after):
        assert verify_turn_credential(accepted, cred.username or "", cred.credential or "", now)
    # once the old secret is dropped, credentials it signed stop working
    assert not verify_turn_credential(
        [TURN_SECRET], issued_before.username or "", issued_before.credential or "", now
    )


def test_expired_or_forged_credentials_do_not_verify() -> None:
    now = int(time.time())
    username, password = turn_credential(TURN_SECRET, "u1", now - 1)
    assert not verify_turn_credential([TURN_SECRET], username, password, now)
    username, password = turn_credential(TURN_SECRET, "u1", now + 60)
    assert verify_turn_credential([TURN_SECRET], username, password, now)
    assert not verify_turn_credential([TURN_SECRET], f"{now + 60}:u2", password, now)
    assert not verify_turn_credential([TURN_SECRET], "u1", password, now)


def test_lifetime_ports_and_tls_are_configurable(sqlite_template: Path, tmp_path: Path) -> None:
    settings = turn_settings(
        sqlite_template,
        tmp_path,
        turn_port=3479,
        turn_tls_port=0,
        turn_credential_ttl_seconds=600,
        stun_urls="stun:stun.example.fi:3478",
    )
    with signed_in(settings) as (client, session):
        body = client.get("/rtc/ice-servers", headers=session.headers).json()
    assert body["ttlSeconds"] == 600
    stun, turn = body["iceServers"]
    assert stun["urls"] == ["stun:turn.example.fi:3479", "stun:stun.example.fi:3478"]
    assert turn["urls"] == [
        "turn:turn.example.fi:3479?transport=udp",
        "turn:turn.example.fi:3479?transport=tcp",
    ]
    assert int(turn["username"].split(":")[0]) <= int(time.time()) + 600


def test_without_turn_the_answer_says_so(sqlite_template: Path, tmp_path: Path) -> None:
    with signed_in(app_settings(sqlite_template, tmp_path)) as (client, session):
        body = client.get("/rtc/ice-servers", headers=session.headers).json()
    assert body == {"iceServers": [], "relay": False, "expiresAt": None, "ttlSeconds": None}
    stun_only = Settings(stun_urls="stun:stun.example.fi:3478")
    out = ice_servers(stun_only, "u1", time.time())
    assert [s.urls for s in out.ice_servers] == [["stun:stun.example.fi:3478"]]
    assert out.relay is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KAARI_TURN_HOST": "turn.example.fi"}, "KAARI_TURN_SECRETS must be set"),
        ({"KAARI_TURN_HOST": "turn.example.fi", "KAARI_TURN_SECRETS": " , "}, "must be set"),
        (
            {
                "KAARI_ENV": "production",
                "KAARI_SECRET_KEY": "s" * 40,
                "KAARI_TURN_HOST": "turn.example.fi",
                "KAARI_TURN_SECRETS": "x" * 40 + ",short",
            },
            "at least 32 characters in production",
        ),
        ({"KAARI_TURN_HOST": "turn://x", "KAARI_TURN_SECRETS": "s"}, "KAARI_TURN_HOST"),
        ({"KAARI_TURN_HOST": "x.fi:3478", "KAARI_TURN_SECRETS": "s"}, "KAARI_TURN_HOST"),
        ({"KAARI_TURN_PORT": "0"}, "KAARI_TURN_PORT"),
        ({"KAARI_TURN_TLS_PORT": "70000"}, "KAARI_TURN_TLS_PORT"),
        ({"KAARI_TURN_CREDENTIAL_TTL_SECONDS": "10"}, "KAARI_TURN_CREDENTIAL_TTL_SECONDS"),
        ({"KAARI_STUN_URLS": "http://stun.example.fi"}, "KAARI_STUN_URLS"),
        ({"KAARI_PRECALL_MAX_PEERS": "-1"}, "KAARI_PRECALL_MAX_PEERS"),
        ({"KAARI_PRECALL_TIMEOUT_SECONDS": "0"}, "KAARI_PRECALL_TIMEOUT_SECONDS"),
        ({"KAARI_PRECALL_HOST_ADDRESSES": "localhost"}, "KAARI_PRECALL_HOST_ADDRESSES"),
    ],
)
def test_bad_rtc_configuration_is_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_good_rtc_configuration_is_read_from_the_environment() -> None:
    s = Settings.from_env(
        {
            "KAARI_ENV": "production",
            "KAARI_SECRET_KEY": "s" * 40,
            "KAARI_SERVER_NAME": "kaari.example.fi",
            "KAARI_TURN_HOST": "[2001:db8::1]",
            "KAARI_TURN_SECRETS": "n" * 32 + ", " + "o" * 32,
            "KAARI_TURN_CREDENTIAL_TTL_SECONDS": "7200",
            "KAARI_PRECALL_HOST_ADDRESSES": "127.0.0.1, ::1",
            "KAARI_VAPID_PRIVATE_KEY": "A" * 42 + "E",
            "KAARI_VAPID_SUBJECT": "mailto:ops@example.fi",
        }
    )
    assert s.turn_secret_list == ["n" * 32, "o" * 32]
    assert s.precall_host_address_list == ["127.0.0.1", "::1"]
    assert (
        ice_servers(s, "u", time.time()).ice_servers[-1].urls[0]
        == "turn:[2001:db8::1]:3478?transport=udp"
    )
