"""Helpers for the signalling tests: an app on SQLite with a signed-in user, coturn."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
from conftest import TEST_SECRET, seed_org
from litestar.testing import TestClient
from servers import REALM, Coturn, require_binary
from support import Session, login

from app.config import Settings
from app.main import create_app

TURN_SECRET = "turn-test-secret-0123456789abcdef0123456789"
OLD_TURN_SECRET = "turn-old-secret-fedcba9876543210fedcba98765"


def app_settings(sqlite_template: Path, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings on a private copy of the migrated SQLite template."""
    path = tmp_path / "kaari.sqlite3"
    shutil.copy(sqlite_template, path)
    settings = Settings(
        database_url=f"sqlite:///{path}", data_dir=str(tmp_path), secret_key=TEST_SECRET
    )
    return msgspec.structs.replace(settings, **overrides).check()


@contextmanager
def signed_in(settings: Settings) -> Iterator[tuple[TestClient[Any], Session]]:
    """A running app and the organisation admin's session (any role may use RTC)."""
    seed_org(settings)
    with TestClient(create_app(settings)) as client:
        yield client, login(client, "admin@example.fi")


__all__ = ["REALM", "Coturn", "require_binary"]
