"""Helpers for the signalling tests: an app on SQLite with a signed-in user, coturn."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
from conftest import TEST_SECRET, seed_org
from litestar.testing import TestClient
from servers import free_port
from support import Session, login, service_missing

from app.config import Settings
from app.main import create_app

TURN_SECRET = "turn-test-secret-0123456789abcdef0123456789"
OLD_TURN_SECRET = "turn-old-secret-fedcba9876543210fedcba98765"
REALM = "kaari.test"


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


def require_binary(name: str, path: str | None = None) -> str:
    """The binary's path; a skip (a failure under CI=true) when it is not installed."""
    found = path if path and Path(path).exists() else shutil.which(name)
    if not found:
        service_missing(name, "not installed; scripts/test.sh installs it as root with apt-get")
    assert found is not None
    return found


class Coturn:
    """A real coturn on loopback with random ports, logging to a file, no CLI."""

    def __init__(self, tmp_path: Path, secrets: list[str]) -> None:
        self.binary = require_binary("turnserver")
        self.port = free_port()
        self.log_path = tmp_path / "turnserver.log"
        self.tmp_path = tmp_path
        self.secrets = secrets
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10) -> None:
        relay_base = 49152 + (self.port % 8000)
        args = [
            self.binary,
            "-n",  # no configuration file: everything is on this command line
            "--listening-ip=127.0.0.1",
            "--relay-ip=127.0.0.1",
            f"--listening-port={self.port}",
            f"--min-port={relay_base}",
            f"--max-port={relay_base + 200}",
            "--use-auth-secret",
            *(f"--static-auth-secret={secret}" for secret in self.secrets),
            f"--realm={REALM}",
            "--fingerprint",
            "--no-tls",
            "--no-dtls",
            "--no-cli",
            "--no-multicast-peers",
            "--allow-loopback-peers",  # tests only: peers and relays are all on 127.0.0.1
            "--no-software-attribute",
            f"--userdb={self.tmp_path / 'turndb'}",
            f"--pidfile={self.tmp_path / 'turnserver.pid'}",
            f"--log-file={self.log_path}",
            "--simple-log",
            "--no-stdout-log",
        ]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"turnserver exited: {self.log()[-2000:]}")
            if self._listening():
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("turnserver did not start in time")

    def _listening(self) -> bool:
        import socket

        try:
            with socket.create_connection(("127.0.0.1", self.port), 0.2):
                return True
        except OSError:
            return False

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
