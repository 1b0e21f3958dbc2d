"""deploy/coturn/turnserver.conf matches Kaari's credential scheme and defaults."""

from __future__ import annotations

from pathlib import Path

from app.config import Settings

CONF = Path(__file__).resolve().parents[2] / "deploy" / "coturn" / "turnserver.conf"


def options() -> list[tuple[str, str]]:
    out = []
    for raw in CONF.read_text().splitlines():
        line = raw.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            out.append((name.strip(), value.strip()))
    return out


def test_coturn_config_uses_the_rest_secret_scheme_on_kaaris_ports() -> None:
    opts = options()
    names = [name for name, _ in opts]
    values = dict(opts)
    defaults = Settings()
    assert "use-auth-secret" in names
    assert names.count("static-auth-secret") >= 1
    assert "lt-cred-mech" not in names  # long-term users would bypass the expiry
    assert values["listening-port"] == str(defaults.turn_port)
    assert values["tls-listening-port"] == str(defaults.turn_tls_port)
    assert {"realm", "fingerprint", "no-cli", "no-multicast-peers"} <= set(names)


def test_the_relay_cannot_reach_private_or_loopback_addresses() -> None:
    opts = options()
    denied = [value for name, value in opts if name == "denied-peer-ip"]
    for start in ("10.0.0.0", "127.0.0.0", "169.254.0.0", "172.16.0.0", "192.168.0.0", "::1"):
        assert any(d.startswith(start) for d in denied), start
    assert "allow-loopback-peers" not in [name for name, _ in opts]
