"""Against a real ``kaari serve`` (issue 16):

* a Matrix device, with the server stopped and started again: what it stored stays, a
  sync against the stopped server is a transport error (the caller retries), and the
  next sync after the restart brings what was sent meanwhile, nothing twice; no
  WebSocket ticket reaches the server's log (uvicorn logs each upgrade with its query
  string);
* uvicorn refuses a frame over KAARI_WS_MAX_FRAME_BYTES (1009) and the gateway counts
  it as a strike: past KAARI_WS_OVERSIZE_STRIKES the device gets no ticket.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from matrix_onboarding import PASSWORD, Devices, LiveEvents, bodies, onboard, room, sync_until
from servers import KaariServer
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from client.api import Api, ApiError


def test_a_matrix_device_loses_nothing_across_a_server_restart(tmp_path: Path) -> None:
    server = KaariServer({"KAARI_DATA_DIR": str(tmp_path / "data")}, tmp_path / "server.log")
    try:
        people = onboard(server)
        devices = Devices(people, tmp_path / "mx", server.url)
        terhi, anna = devices.open("therapist"), devices.open("anna")
        for client in (terhi, anna):
            client.sync()
        family = room(people.family_thread)
        live = LiveEvents(people.therapist)
        live.connect()

        # a message arrives and is stored, then the server goes away
        anna.send_text(family, "ennen katkoa")
        assert sync_until(terhi, family, 1) == ["ennen katkoa"]
        server.stop()
        live.poll(0.5)  # the socket is closed under it: no exception
        with pytest.raises(httpx.TransportError):
            terhi.sync(timeout_ms=500)
        assert bodies(terhi, family) == ["ennen katkoa"]  # what was stored stays

        server.start()
        anna.send_text(family, "katkon jälkeen")
        assert sync_until(terhi, family, 2, 20.0) == ["ennen katkoa", "katkon jälkeen"]
        assert terhi.sync(timeout_ms=300).messages == []  # nothing twice
        assert terhi.undecryptable() == []
        live.connect()  # a new ticket after the restart
        live.close()
        for client in (terhi, anna):
            client.close()
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
