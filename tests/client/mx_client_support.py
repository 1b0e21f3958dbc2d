"""Helpers for the Matrix reference-client tests: a MatrixClient per signed-in device,
over the litestar TestClient (an httpx.Client) of a real app."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from uuid import UUID

from support import Session, login

from app.messaging.service import thread_id_of
from client.matrix import MatrixClient, MatrixHttp

SERVER = "localhost"


def family_room(case_id: UUID) -> str:
    return f"!{thread_id_of(case_id, 'family')}:{SERVER}"


class Devices:
    """Opens clients with their own store directory and secret (kept for reopening)."""

    def __init__(self, http: Any, root: Path) -> None:
        self.http = http
        self.root = root
        self.secrets: dict[str, bytes] = {}

    def open(self, session: Session, name: str) -> MatrixClient:
        secret = self.secrets.setdefault(name, os.urandom(32))
        return MatrixClient.open(MatrixHttp(self.http, session.token), self.root / name, secret)

    def login(self, email: str, name: str) -> tuple[Session, MatrixClient]:
        session = login(self.http, email, device=name)
        return session, self.open(session, name)
