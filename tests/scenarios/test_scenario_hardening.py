"""Against a real ``kaari serve`` (issue 16):

* the reference client's live connection, with the server stopped and started again:
  ``Live.poll`` never raises a transport error, returns every message it stored, and
  reconnects with backoff; no WebSocket ticket reaches the server's log (uvicorn logs
  each upgrade with its query string);
* uvicorn refuses a frame over KAARI_WS_MAX_FRAME_BYTES (1009) and the gateway counts
  it as a strike: past KAARI_WS_OVERSIZE_STRIKES the device gets no ticket.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from scenario_people import PASSWORD, live_until, onboard, texts
from servers import KaariServer
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from client.api import Api, ApiError
from client.live import Live


def test_poll_survives_a_server_restart_and_loses_no_stored_message(tmp_path: Path) -> None:
    server = KaariServer({"KAARI_DATA_DIR": str(tmp_path / "data")}, tmp_path / "server.log")
    try:
        people = onboard(server, tmp_path / "devices")
        live = Live(people.therapist)
        live.connect()

        # a message arrives, then the server goes away within the same poll
        people.guardian.send_text(people.family_thread, "ennen katkoa")
        stopper = threading.Timer(1.0, server.stop)
        stopper.start()
        started = time.monotonic()
        got = live.poll(6.0)  # raised httpx.ConnectError and dropped the message before
        stopper.join()
        assert texts(got) == ["ennen katkoa"]
        assert time.monotonic() - started >= 5.0  # it kept trying until the deadline
        # with the server still gone: no exception, nothing new
        assert live.poll(1.0) == []
        try:
            httpx.get(server.url + "/health", timeout=1)
            raise AssertionError("the server should be down")
        except httpx.TransportError:
            pass

        server.start()
        people.guardian.send_text(people.family_thread, "katkon jälkeen")
        assert texts(live_until(live, 1, 20.0)) == ["katkon jälkeen"]
        assert live.connects >= 2
        live.close()
        # uvicorn logged each upgrade as "WebSocket /ws?ticket=…" [accepted]
        log = server.log_path.read_text()
        assert "WebSocket /ws" in log
        assert "ticket=" not in log
    finally:
        server.stop()


def test_uvicorn_closes_an_oversized_frame_and_the_device_gets_a_strike(tmp_path: Path) -> None:
    env = {"KAARI_DATA_DIR": str(tmp_path / "data"), "KAARI_WS_OVERSIZE_STRIKES": "2"}
    server = KaariServer(env, tmp_path / "server.log")
    try:
        org = server.cli("admin", "create-org", "--name", "Terapia Oy")
        server.cli(
            "admin", "create-user", "--org", org, "--email", "admin@example.fi",
            "--display-name", "Admin", "--password-stdin", stdin=PASSWORD + "\n",
        )  # fmt: skip
        server.start()
        api = Api(server.url)
        api.login("admin@example.fi", PASSWORD, "laptop")
        for _ in range(2):
            with connect(api.ws_url(api.ws_ticket()), max_size=None) as ws:
                assert '"hello"' in str(ws.recv(timeout=5))
                ws.send('{"type": "ping", "pad": "' + "x" * 70_000 + '"}')
                with pytest.raises(ConnectionClosed) as closed:
                    ws.recv(timeout=5)
                assert closed.value.rcvd is not None
                assert closed.value.rcvd.code == 1009
        with pytest.raises(ApiError) as refused:
            api.ws_ticket()
        assert (refused.value.status, refused.value.code) == (429, "rate_limited")
    finally:
        server.stop()
