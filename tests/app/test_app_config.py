"""Settings from KAARI_* variables, and production refusing development secrets."""

from __future__ import annotations

import pytest

from app.config import DEV_SECRET_KEY, ConfigError, Settings


def test_defaults_are_the_embedded_development_setup() -> None:
    s = Settings.from_env({})
    assert s.env == "development"
    assert s.effective_database_url.startswith("sqlite:///")
    assert s.effective_database_url.endswith("var/kaari.sqlite3")
    assert (s.host, s.port, s.redis_url) == ("127.0.0.1", 8000, "")
    assert (s.argon2_memory_kib, s.argon2_time_cost, s.argon2_parallelism) == (19456, 2, 1)


def test_environment_variables_are_read_and_converted() -> None:
    s = Settings.from_env(
        {
            "KAARI_PORT": "9000",
            "KAARI_DATABASE_URL": "postgresql://db/kaari",
            "KAARI_REDIS_URL": "redis://localhost:6379/1",
            "KAARI_LOGIN_WINDOW_SECONDS": "60",
            "UNRELATED": "x",
        }
    )
    assert s.port == 9000
    assert s.login_window_seconds == 60
    assert s.effective_database_url == "postgresql://db/kaari"


def test_cli_overrides_win_over_the_environment() -> None:
    assert Settings.from_env({"KAARI_PORT": "9000"}, port=9100).port == 9100


VAPID_KEY = (
    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE"  # a valid P-256 scalar (base64url of 32 bytes)
)
REAL = {
    "KAARI_ENV": "production",
    "KAARI_SECRET_KEY": "s" * 40,
    "KAARI_SERVER_NAME": "kaari.example.fi",
}
PUSH = {"KAARI_VAPID_PRIVATE_KEY": VAPID_KEY, "KAARI_VAPID_SUBJECT": "mailto:ops@example.fi"}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KAARI_ENV": "production"}, "KAARI_SECRET_KEY must be set"),
        ({"KAARI_ENV": "production", "KAARI_SECRET_KEY": "short"}, "at least 32"),
        ({"KAARI_ENV": "staging"}, "invalid setting KAARI_ENV: Invalid enum value 'staging'"),
        ({"KAARI_PORT": "70000"}, "KAARI_PORT"),
        ({"KAARI_PORT": "eighty"}, "invalid setting KAARI_PORT: Expected `int`"),
        ({"KAARI_ARGON2_MEMORY_KIB": "4096"}, "OWASP"),
        ({"KAARI_ARGON2_TIME_COST": "1"}, "OWASP"),
        ({"KAARI_ARGON2_MEMORY_KIB": "64", "KAARI_INSECURE_TEST_HASHING": "false"}, "OWASP"),
        (
            {**REAL, **PUSH, "KAARI_ARGON2_TIME_COST": "1", "KAARI_INSECURE_TEST_HASHING": "1"},
            "OWASP",
        ),
        ({**REAL, **PUSH, "KAARI_INSECURE_TEST_HASHING": "true"}, "development only"),
        ({"KAARI_ARGON2_MEMORY_KIB": "4", "KAARI_INSECURE_TEST_HASHING": "true"}, "8 KiB"),
        ({"KAARI_DATABASE_URL": "mysql://x/y"}, "KAARI_DATABASE_URL"),
        ({"KAARI_REDIS_URL": "http://x"}, "KAARI_REDIS_URL"),
        ({"KAARI_PAIRING_TTL_SECONDS": "0"}, "KAARI_PAIRING_TTL_SECONDS"),
        ({**REAL, "KAARI_VAPID_SUBJECT": "mailto:a@b.fi"}, "KAARI_VAPID_PRIVATE_KEY must be set"),
        ({**REAL, "KAARI_VAPID_PRIVATE_KEY": VAPID_KEY}, "KAARI_VAPID_SUBJECT must be set"),
        ({"KAARI_VAPID_SUBJECT": "ops@example.fi"}, "mailto: or https:"),
        ({**REAL, **PUSH, "KAARI_TEST_CLOCK_START": "2026-01-01T00:00:00+02:00"}, "development"),
        ({**REAL, **PUSH, "KAARI_NOTIFY_GATEWAY_URL": "http://gw"}, "https:// in production"),
        ({"KAARI_NOTIFY_GATEWAY_URL": "gw.example.fi"}, "KAARI_NOTIFY_GATEWAY_URL"),
        (
            {**REAL, **PUSH, "KAARI_NOTIFY_GATEWAY_URL": "https://gw"},
            "KAARI_PUBLIC_URL must be an https://",
        ),
        ({"KAARI_PUBLIC_URL": "kaari.fi"}, "KAARI_PUBLIC_URL"),
        ({"KAARI_PASSWORD_RESET_TTL_MINUTES": "2"}, "KAARI_PASSWORD_RESET_TTL_MINUTES"),
        ({"KAARI_PASSWORD_RESET_MAX_PER_ADDRESS": "1"}, "KAARI_PASSWORD_RESET_MAX_PER_ADDRESS"),
        ({"KAARI_NOTIFY_MAX_ATTEMPTS": "0"}, "KAARI_NOTIFY_MAX_ATTEMPTS"),
        ({"KAARI_TEST_CLOCK_START": "2026-01-01T00:00:00"}, "with offset"),
        ({**REAL, **PUSH, "KAARI_SERVER_NAME": ""}, "KAARI_SERVER_NAME must be set"),
        ({"KAARI_SERVER_NAME": "kaari.fi/x"}, "KAARI_SERVER_NAME must be a host name"),
        ({"KAARI_SERVER_NAME": "kaari.fi:99999"}, "KAARI_SERVER_NAME must be a host name"),
        ({"KAARI_ROOM_EVENT_RETENTION_DAYS": "0"}, "KAARI_ROOM_EVENT_RETENTION_DAYS"),
    ],
)
def test_unsafe_or_invalid_settings_are_refused(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env)


def test_the_test_suite_may_hash_fast_in_development_only() -> None:
    s = Settings.from_env(
        {
            "KAARI_ARGON2_MEMORY_KIB": "64",
            "KAARI_ARGON2_TIME_COST": "1",
            "KAARI_INSECURE_TEST_HASHING": "true",
        }
    )
    assert (s.argon2_memory_kib, s.argon2_time_cost) == (64, 1)
    assert Settings().insecure_test_hashing is False


PRODUCTION_PUSH = {
    "KAARI_VAPID_PRIVATE_KEY": VAPID_KEY,
    "KAARI_VAPID_SUBJECT": "mailto:ops@example.fi",
}


def test_production_accepts_a_real_secret() -> None:
    s = Settings.from_env({**REAL, **PRODUCTION_PUSH})
    assert s.is_production
    assert s.matrix_server_name == "kaari.example.fi"
    assert Settings.from_env({}).matrix_server_name == "localhost"
    assert Settings.from_env({"KAARI_SERVER_NAME": "kaari.fi:8448"}).server_name == "kaari.fi:8448"
    assert s.secret_key != DEV_SECRET_KEY
