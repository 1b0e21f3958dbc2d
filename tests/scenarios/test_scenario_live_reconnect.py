"""The reference client's live connection against a real ``kaari serve`` that stops and
comes back (issue 16): ``Live.poll`` never raises a transport error, returns every
message it stored, and reconnects with backoff; and no WebSocket ticket reaches the
server's log (uvicorn logs each upgrade with its query string)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
from scenario_people import live_until, onboard, texts
from servers import KaariServer

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
