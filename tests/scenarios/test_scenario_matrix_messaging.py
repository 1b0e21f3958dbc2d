"""Messaging on the Matrix device protocol against real `kaari serve` processes.

* A therapist, two guardians (one with a phone and a tablet) and a child, each a Matrix
  device (client/matrix): Megolm messages and a file in both rooms reach every member's
  devices exactly once, a device that was offline reads its backlog, a removed member's
  devices stop receiving; then no plaintext, token, code or password is found in the
  database, the blob store or the logs.
* kill -9 between accepted sends: nothing accepted is lost, a retried transaction is the
  same event, nothing is handed to the application twice.
* Two instances on one PostgreSQL and one Redis: a long-polling sync on one instance
  wakes within seconds when a member sends through the other.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from matrix_onboarding import Devices, bodies, onboard, room, sync_until
from servers import fresh_postgres_database, scenario_server, stored_bytes
from support import REDIS_URL, reachable, service_missing

from client.api import Api
from client.matrix import MatrixError
from client.matrix.files import fetch_file, pointer_of, send_file


def test_family_messaging_on_matrix_end_to_end(tmp_path: Path, database: str) -> None:
    server = scenario_server(tmp_path, database)
    try:
        people = onboard(server)
        devices = Devices(people, tmp_path / "mx", server.url)
        c = {name: devices.open(name) for name in ("therapist", "anna", "tablet", "mikko", "eino")}
        for client in c.values():
            client.sync()  # the first sync: from here on every sync is incremental
        c["tablet"].close()  # keys published, then offline until the end
        family, child = room(people.family_thread), room(people.child_thread)
        picture = os.urandom(70_000) + b"EINO-PICTURE-MARKER"
        plain = {
            "family": "Eino on kuumeessa, perutaan tämän päivän käynti",
            "child": "Eino, muista harjoitella saksilla leikkaamista!",
            "child-reply": "Tein sen! Leikkasin tähden.",
            "family-2": "Kiitos tiedosta, toivottavasti Eino paranee pian",
        }
        c["anna"].send_text(family, plain["family"])
        c["therapist"].send_text(child, plain["child"])
        c["eino"].send_text(child, plain["child-reply"])
        c["therapist"].send_text(family, plain["family-2"])
        api = Api(server.url, token=devices.tokens["anna"])
        send_file(c["anna"], api, child, [picture], "image/jpeg", "star.jpg")

        want_family = [plain["family"], plain["family-2"]]
        want_child = [plain["child"], plain["child-reply"], "file"]
        for name in ("therapist", "anna", "mikko"):
            assert sync_until(c[name], family, 2) == want_family, name
        for name in ("therapist", "anna", "mikko", "eino"):
            assert sync_until(c[name], child, 3) == want_child, name
        assert bodies(c["eino"], family) == []  # the child is not in the family room
        (file_message,) = [
            m for m in c["eino"].messages(child) if m["content"]["body"] == "star.jpg"
        ]
        eino_api = Api(server.url, token=devices.tokens["eino"])
        assert b"".join(fetch_file(eino_api, pointer_of(file_message["content"]))) == picture
        for name in ("therapist", "anna", "mikko", "eino"):  # exactly once: nothing more
            assert c[name].sync(timeout_ms=300).messages == [], name
            assert c[name].undecryptable() == [], name

        # the tablet was offline: it reads everything of its rooms when it comes back
        tablet = devices.open("tablet")
        tablet.sync()
        assert sync_until(tablet, family, 2) == want_family
        assert sync_until(tablet, child, 3) == want_child
        assert tablet.undecryptable() == []

        # a removed member's devices stop receiving, and may no longer send
        mikko_id = str(people.guardian2.user_id)
        people.therapist.request("DELETE", f"/cases/{people.case_id}/members/{mikko_id}")
        c["therapist"].send_text(family, "Vain Annalle ja Terhille")
        assert sync_until(c["anna"], family, 3)[-1] == "Vain Annalle ja Terhille"
        c["mikko"].sync(timeout_ms=500)
        assert "Vain Annalle ja Terhille" not in bodies(c["mikko"], family)
        assert c["mikko"].undecryptable() == []  # not even its ciphertext
        with pytest.raises(MatrixError) as refused:
            c["mikko"].send_text(family, "hello?")
        assert refused.value.status in (403, 404)
        for client in [*c.values(), tablet]:
            client.close()
    finally:
        server.stop()

    # the privacy test: no plaintext anywhere the server keeps anything
    everything = stored_bytes(tmp_path, database)
    for text in [*plain.values(), "Vain Annalle ja Terhille", "star.jpg"]:
        assert text.encode() not in everything, text
    assert b"EINO-PICTURE-MARKER" not in everything
    assert picture[:48] not in everything
    for secret in people.secrets:
        assert secret.encode() not in everything


def test_kill9_on_matrix_loses_nothing_and_delivers_nothing_twice(
    tmp_path: Path, database: str
) -> None:
    server = scenario_server(tmp_path, database)
    try:
        people = onboard(server)
        devices = Devices(people, tmp_path / "mx", server.url)
        therapist, mikko, anna = (devices.open(n) for n in ("therapist", "mikko", "anna"))
        for client in (therapist, mikko, anna):
            client.sync()
        anna.close()  # offline the whole time
        family = room(people.family_thread)
        sent = [f"viesti {n}" for n in range(30)]
        _, epoch = therapist.prepare_room(family)
        accepted: list[tuple[str, dict[str, Any], str]] = []
        for n, text in enumerate(sent[:20]):
            content = therapist.device.encrypt_room_event(
                family, "m.room.message", {"msgtype": "m.text", "body": text}
            )
            therapist.store.save_device(therapist.device)
            event_id = therapist.http.send_room_event(family, f"k-{n}", content, epoch)
            accepted.append((f"k-{n}", content, event_id))
        mikko.sync()  # the receiver has taken some, maybe all, when the server dies
        server.kill9()
        server.start()
        # after the restart: a retry of an accepted transaction is the same event
        txn, content, event_id = accepted[19]
        assert therapist.http.send_room_event(family, txn, content, epoch) == event_id
        for text in sent[20:]:
            therapist.send_text(family, text)
        assert sync_until(mikko, family, 30, 20) == sent  # all of them, in order, once
        assert mikko.sync(timeout_ms=300).messages == []
        offline = devices.open("anna")
        offline.sync()
        assert sync_until(offline, family, 30) == sent
        for client in (therapist, mikko, offline):
            client.close()
    finally:
        server.stop()


def test_two_instances_on_matrix_share_one_postgresql_and_one_redis(tmp_path: Path) -> None:
    if not reachable(REDIS_URL):
        service_missing("Redis", REDIS_URL)
    with fresh_postgres_database() as database:
        shared = {
            "KAARI_REDIS_URL": REDIS_URL,
            "KAARI_REDIS_PREFIX": f"kaari-mx-{os.getpid()}-{time.monotonic_ns()}:",
            "KAARI_BLOB_DIR": str(tmp_path / "blobs"),
        }
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        a = scenario_server(tmp_path / "a", database, "a", **shared)
        b = scenario_server(tmp_path / "b", database, "b", **shared)
        try:
            a.start()
            b.start()
            people = onboard(a, url=a.url)
            devices = Devices(people, tmp_path / "mx", a.url)
            anna = devices.open("anna")  # on instance A
            child = room(people.child_thread)
            woke: dict[str, float] = {}
            got: dict[str, list[str]] = {}
            ready = threading.Barrier(3, timeout=30)

            def listen(name: str) -> None:
                """A device on instance B, long-polling (its store lives in this thread)."""
                client = devices.open(name, b.url)
                try:
                    client.sync()
                    ready.wait()
                    deadline = time.monotonic() + 10
                    while time.monotonic() < deadline and not client.messages(child):
                        client.sync(timeout_ms=8000)  # the room key may come first
                    if client.messages(child):
                        woke[name] = time.monotonic()
                    got[name] = bodies(client, child)
                finally:
                    client.close()

            listeners = [threading.Thread(target=listen, args=(n,)) for n in ("therapist", "eino")]
            for thread in listeners:
                thread.start()
            ready.wait()
            time.sleep(0.5)  # both long-polls are parked on instance B
            sent_at = time.monotonic()
            anna.send_text(child, "Terveisiä instanssista A")
            for thread in listeners:
                thread.join(20)
            assert set(woke) == {"therapist", "eino"}
            assert max(woke.values()) - sent_at < 5
            assert got == {n: ["Terveisiä instanssista A"] for n in ("therapist", "eino")}
            eino = devices.open("eino", b.url)
            # a file uploaded through A downloads through B
            api_a = Api(a.url, token=devices.tokens["anna"])
            send_file(anna, api_a, child, [b"kuva" * 1000], "image/png", "kuva.png")
            assert sync_until(eino, child, 2)[-1] == "file"
            file_message = eino.messages(child)[-1]
            api_b = Api(b.url, token=devices.tokens["eino"])
            pointer = pointer_of(file_message["content"])
            assert b"".join(fetch_file(api_b, pointer)) == b"kuva" * 1000
            for client in (anna, eino):
                client.close()
        finally:
            a.stop()
            b.stop()
