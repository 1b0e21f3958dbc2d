"""Real `kaari serve` and coturn processes for scenario tests (loopback only, bounded in
time)."""

from __future__ import annotations

import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg
import httpx
from support import POSTGRES_URL, reachable, run, service_missing, worker_index, worker_name

SERVER_SECRET = "scenario-secret-key-0123456789abcdef0123"
REALM = "kaari.test"  # coturn's realm in the tests


# Ports for test servers: below Linux's ephemeral range (32768 and up, where the
# kernel picks outgoing ports and port 0), one block per xdist worker so that two
# workers never race for the same port, from a random place in the block so that
# concurrent runs on one machine rarely meet; a bind checks that a port is free.
PORT_BASE = 20000
PORT_BLOCK = 1500
PORT_WORKERS = 8
_port_cursor: list[int] = []


def free_port() -> int:
    base = PORT_BASE + (worker_index() % PORT_WORKERS) * PORT_BLOCK
    if not _port_cursor:
        _port_cursor.append(random.randrange(PORT_BLOCK))
    for _ in range(PORT_BLOCK):
        port = base + _port_cursor[0]
        _port_cursor[0] = (_port_cursor[0] + 1) % PORT_BLOCK
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {base}..{base + PORT_BLOCK - 1}")


class KaariServer:
    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "KAARI_SECRET_KEY": SERVER_SECRET,
            "KAARI_LOG_LEVEL": "INFO",
            # fast argon2id (tests/conftest.py FAST_HASHING); a test may set its own
            "KAARI_ARGON2_MEMORY_KIB": "64",
            "KAARI_ARGON2_TIME_COST": "1",
            "KAARI_INSECURE_TEST_HASHING": "true",
            **env,
            "KAARI_PORT": str(self.port),
        }
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args: str, stdin: str = "") -> str:
        result = subprocess.run(
            [sys.executable, "-m", "app.cli", *args],
            input=stdin.encode(),
            capture_output=True,
            env=self.env,
            timeout=60,
            check=False,
        )
        with self.log_path.open("ab") as log:
            log.write(result.stderr)
        assert result.returncode == 0, result.stderr.decode()
        return result.stdout.decode().strip()

    def start(self, timeout: float = 30) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve"],
            env=self.env,
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log_path.read_text()[-2000:]}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("server did not become healthy in time")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def kill9(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(5)
            self.proc = None


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """An empty database on the real server; the app under test migrates it itself."""
    if not reachable(POSTGRES_URL):
        service_missing("PostgreSQL", POSTGRES_URL)
    name = f"kaari_scn_{worker_name()}_{secrets.token_hex(4)}"

    async def execute(sql: str) -> None:
        conn = await asyncpg.connect(POSTGRES_URL)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    run(execute(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        run(execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def postgres_dump(url: str) -> str:
    """Every row of every table in the public schema, as text."""

    async def go() -> str:
        conn = await asyncpg.connect(url)
        try:
            tables = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
            parts = []
            for t in tables:
                rows = await conn.fetch(f'SELECT t::text AS row FROM "{t["tablename"]}" t')
                parts.extend(r["row"] for r in rows)
            return "\n".join(parts)
        finally:
            await conn.close()

    result: str = run(go())
    return result


def stored_bytes(tmp_path: Path, database: str) -> bytes:
    """Everything the server keeps: database files (or a full dump), blobs, logs."""
    parts = [p.read_bytes() for p in (tmp_path / "data").rglob("*") if p.is_file()]
    parts += [p.read_bytes() for p in tmp_path.glob("*.log")]
    if database:
        parts.append(postgres_dump(database).encode())
    return b"\n".join(parts)


def scenario_server(tmp_path: Path, database: str, name: str = "server", **env: str) -> KaariServer:
    """A `kaari serve` with its data in ``tmp_path`` on ``database`` ("" for SQLite)."""
    values = {"KAARI_DATA_DIR": str(tmp_path / "data"), **env}
    if database:
        values["KAARI_DATABASE_URL"] = database
    return KaariServer(values, tmp_path / f"{name}.log")


def kaari_client(
    profile: Path, *args: str, stdin: str = "", tz: str | None = None
) -> subprocess.CompletedProcess[str]:
    """`kaari client --profile PROFILE ARGS…` as a person runs it in a terminal (``tz``:
    the terminal's time zone, e.g. a device in Finland)."""
    env = {**os.environ, "TZ": tz} if tz else None
    return subprocess.run(
        [sys.executable, "-m", "kaari_entry", "client", "--profile", str(profile), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )


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
