"""A Redis outage under two real instances, on the Matrix delivery path: a Matrix device
long-polling ``GET /sync`` on instance B still gets, within a few seconds, what a member
sends through instance A while the instances' Redis connections are cut (only theirs:
they reach Redis through the test's own TCP proxy). Without the bus nothing tells B of
the send; B's periodic resync wakes its waiting syncs, which look at the database again.
Before and after the cut the bus wakes them; nothing arrives twice."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from scenario_people import onboard
from servers import KaariServer, fresh_postgres_database
from support import REDIS_URL, reachable, service_missing
from tcp_proxy import TcpProxy
from test_scenario_matrix_messaging import Devices, bodies, room
from test_scenario_redis_outage import ready, until

WITHIN = 5.0  # seconds: "within a few seconds" (the resync runs every 2 s)
LONG_POLL_MS = 25_000  # far longer than WITHIN: only a wake-up ends it in time
LAST = "katkon jälkeen"


def test_a_matrix_long_poll_on_the_other_instance_wakes_while_redis_is_cut(
    tmp_path: Path,
) -> None:
    if not reachable(REDIS_URL):
        service_missing("Redis", REDIS_URL)
    host, port = REDIS_URL.split("//")[1].split("/")[0].split(":")
    proxy = TcpProxy(host, int(port))
    proxy.start()
    with fresh_postgres_database() as database:
        shared = {
            "KAARI_DATABASE_URL": database,
            "KAARI_REDIS_URL": proxy.url,
            "KAARI_REDIS_PREFIX": f"kaari-mx-outage-{os.getpid()}-{time.monotonic_ns()}:",
            "KAARI_BLOB_DIR": str(tmp_path / "blobs"),
        }
        a = KaariServer({**shared, "KAARI_DATA_DIR": str(tmp_path / "a")}, tmp_path / "a.log")
        b = KaariServer({**shared, "KAARI_DATA_DIR": str(tmp_path / "b")}, tmp_path / "b.log")
        listener: threading.Thread | None = None
        stop = threading.Event()
        try:
            a.start()
            b.start()
            people = onboard(a, tmp_path / "devices", url=a.url)
            devices = Devices(people, tmp_path / "mx", a.url)
            anna = devices.open("anna")  # on instance A
            anna.sync()
            child = room(people.child_thread)
            arrived: dict[str, float] = {}
            seen: list[list[str]] = []
            errors: list[BaseException] = []
            parked = threading.Event()

            def listen() -> None:
                """The therapist's Matrix device on instance B, long-polling (its store
                lives in this thread)."""
                client = devices.open("therapist", b.url)
                try:
                    client.sync()
                    parked.set()
                    while LAST not in arrived and not stop.is_set():
                        client.sync(timeout_ms=LONG_POLL_MS)
                        for text in bodies(client, child):
                            arrived.setdefault(text, time.monotonic())
                    seen.append(bodies(client, child))
                    assert client.undecryptable() == []
                except BaseException as exc:
                    errors.append(exc)
                finally:
                    client.close()

            def arrives(text: str) -> float:
                anna.send_text(child, text)
                accepted = time.monotonic()
                until(lambda: text in arrived or bool(errors), WITHIN + 25)
                assert errors == []
                elapsed = arrived[text] - accepted
                print(f"\n{text!r} arrived on B after {elapsed:.2f} s")
                assert elapsed < WITHIN, (text, elapsed)
                return elapsed

            listener = threading.Thread(target=listen)
            listener.start()
            assert parked.wait(60)
            time.sleep(0.5)  # the long-poll is parked on B
            assert ready(a)["status"] == ready(b)["status"] == "ok"
            arrives("ennen katkoa")

            # Redis is cut: only these instances' connections (the proxy is the test's)
            proxy.stop()
            for server in (a, b):
                until(lambda s=server: ready(s)["checks"]["bus"] == "degraded", 15)
            time.sleep(0.5)  # a long-poll parked on B after the cut
            arrives("katkon aikana")
            arrives("katkon aikana, toinen")

            # Redis is back: the bus wakes the long-poll again
            proxy.start()
            for server in (a, b):
                until(lambda s=server: ready(s)["status"] == "ok", 20)
            arrives(LAST)  # (and the listener ends)
            listener.join(LONG_POLL_MS / 1000 + 10)
            assert not listener.is_alive()
            assert errors == []
            # each once, in order
            assert seen == [["ennen katkoa", "katkon aikana", "katkon aikana, toinen", LAST]]
            anna.close()
        finally:
            stop.set()
            a.stop()
            b.stop()
            if listener is not None:
                listener.join(5)
            proxy.close()
    log = (tmp_path / "b.log").read_text()
    assert "event bus degraded: sockets resync from the database" in log
    assert "redis bus reachable again" in log
