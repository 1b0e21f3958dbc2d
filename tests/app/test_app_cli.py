"""The `kaari` command: migrate, admin create-org / create-user, and refusals."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from litestar.testing import TestClient
from support import PASSWORD, login

from app.cli import main
from app.config import Settings
from app.main import create_app


def kaari(
    args: list[str], env: dict[str, str], stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", **env},
        timeout=60,
        check=False,
    )


def test_first_admin_from_the_cli_can_sign_in(tmp_path: Path) -> None:
    env = {"KAARI_DATA_DIR": str(tmp_path), "KAARI_LOG_LEVEL": "WARNING"}
    migrated = kaari(["migrate"], env)
    assert migrated.returncode == 0, migrated.stderr
    assert "database at revision" in migrated.stdout
    org = kaari(["admin", "create-org", "--name", "Terapia Oy"], env)
    assert org.returncode == 0, org.stderr
    org_id = UUID(org.stdout.strip())
    user = kaari(
        [
            "admin",
            "create-user",
            "--org",
            str(org_id),
            "--email",
            "boss@example.fi",
            "--display-name",
            "Boss",
            "--password-stdin",
        ],
        env,
        stdin=PASSWORD + "\n",
    )
    assert user.returncode == 0, user.stderr
    assert PASSWORD not in user.stdout + user.stderr
    settings = Settings(data_dir=str(tmp_path))
    with TestClient(create_app(settings)) as client:
        s = login(client, "boss@example.fi")
        assert client.get("/org", headers=s.headers).json()["name"] == "Terapia Oy"
    again = kaari(
        [
            "admin",
            "create-user",
            "--org",
            str(org_id),
            "--email",
            "boss@example.fi",
            "--display-name",
            "Boss",
            "--password-stdin",
        ],
        env,
        stdin=PASSWORD + "\n",
    )
    assert again.returncode == 2
    assert "email_taken" in again.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["admin", "create-org", "--name", "X", "--languages", "de"], "", "--languages"),
        (
            [
                "admin",
                "create-user",
                "--org",
                "00000000-0000-0000-0000-000000000000",
                "--email",
                "a@example.fi",
                "--display-name",
                "A",
                "--password-stdin",
            ],
            "short\n",
            "10 to 256",
        ),
        (
            [
                "admin",
                "create-user",
                "--org",
                "00000000-0000-0000-0000-000000000000",
                "--email",
                "a@example.fi",
                "--display-name",
                "A",
                "--password-stdin",
            ],
            PASSWORD + "\n",
            "org_not_found",
        ),
        (["serve", "--demo"], "", "refused when KAARI_ENV=production"),
    ],
)
def test_cli_refuses_bad_input_with_a_clear_message(
    tmp_path: Path, args: list[str], stdin: str, message: str
) -> None:
    env = {"KAARI_DATA_DIR": str(tmp_path), "KAARI_LOG_LEVEL": "WARNING"}
    if args[0] == "serve":
        env |= {"KAARI_ENV": "production", "KAARI_SECRET_KEY": "p" * 40}
        env |= {"KAARI_SERVER_NAME": "kaari.example.fi"}
        env |= {"KAARI_VAPID_PRIVATE_KEY": "A" * 42 + "E", "KAARI_VAPID_SUBJECT": "mailto:a@b.fi"}
    result = kaari(args, env, stdin)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr


def test_production_without_a_secret_does_not_start(monkeypatch: Any, capsys: Any) -> None:
    monkeypatch.setenv("KAARI_ENV", "production")
    monkeypatch.delenv("KAARI_SECRET_KEY", raising=False)
    assert main(["serve"]) == 2
    assert "KAARI_SECRET_KEY must be set" in capsys.readouterr().err
