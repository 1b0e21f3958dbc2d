"""Debian's nginx on loopback, with deploy/nginx/kaari-locations.conf (the routes and
WebSocket timeouts of the real deployment) in front of Kaari instances."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from servers import free_port, require_binary

LOCATIONS = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "kaari-locations.conf"


def proxy_config(prefix: Path, port: int, upstreams: list[int]) -> str:
    """A whole nginx.conf: the deployment's locations, plain HTTP on 127.0.0.1:port,
    every path (pid, logs, temp files) under ``prefix``."""
    servers = "\n".join(
        f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in upstreams
    )
    # as root, workers would run as nobody and could not write the temp dirs here
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{
    worker_connections 256;
}}
http {{
    log_format kaari '$remote_addr "$request_method $uri" $status $upstream_addr';
    access_log {prefix}/access.log kaari;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream kaari {{
{servers}
        keepalive 8;
    }}
    server {{
        listen 127.0.0.1:{port};
        server_name _;
        include {LOCATIONS};
    }}
}}
"""


class Nginx:
    def __init__(self, prefix: Path, upstreams: list[int]) -> None:
        self.binary = require_binary("nginx", "/usr/sbin/nginx")
        self.prefix = prefix
        self.port = free_port()
        self.upstreams = upstreams
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def test_config(self) -> subprocess.CompletedProcess[str]:
        """``nginx -t`` on the generated configuration."""
        path = self._write()
        return subprocess.run(
            [self.binary, "-t", "-p", str(self.prefix), "-c", str(path)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )

    def _write(self) -> Path:
        self.prefix.mkdir(parents=True, exist_ok=True)
        path = self.prefix / "nginx.conf"
        path.write_text(proxy_config(self.prefix, self.port, self.upstreams))
        return path

    def start(self, timeout: float = 10) -> None:
        path = self._write()
        log = (self.prefix / "stderr.log").open("ab")
        self.proc = subprocess.Popen(
            [self.binary, "-p", str(self.prefix), "-c", str(path)],
            stdout=log,
            stderr=log,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.log()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("nginx did not start in time")

    def log(self) -> str:
        parts = []
        for name in ("stderr.log", "error.log"):
            path = self.prefix / name
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)

    def access_log(self) -> str:
        path = self.prefix / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # fast shutdown: open sockets are cut
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
