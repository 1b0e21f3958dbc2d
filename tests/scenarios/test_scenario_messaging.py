"""End-to-end encrypted messaging against real `kaari serve` processes.

* A therapist, two guardians (one with two devices) and a child: messages in both
  threads reach every device exactly once, live or on reconnect; a removed member's
  devices stop receiving; then no plaintext is found in the database, the blob store
  or the logs.
* kill -9 between accepted sends: nothing accepted is lost, nothing is handed to the
  application twice.
* Two instances on one PostgreSQL and one Redis: a sender on one, receivers on the other.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from scenario_people import live_until, onboard, texts
from servers import fresh_postgres_database, scenario_server, stored_bytes
from support import REDIS_URL, reachable, service_missing

from client.api import ApiError
from client.live import Live
from crypto.payloads import AttachmentPointer, TextMessage


def test_family_messaging_end_to_end(tmp_path: Path, database: str) -> None:
    server = scenario_server(tmp_path, database)
    try:
        people = onboard(server, tmp_path / "devices")
        p = people
        online = [p.therapist, p.guardian, p.guardian2, p.child]  # the tablet is off
        lives = {id(m): Live(m) for m in online}
        for live in lives.values():
            live.connect()
        picture = os.urandom(70_000) + b"EINO-PICTURE-MARKER"
        plain = {
            "family": "Eino on kuumeessa, perutaan tämän päivän käynti",
            "child": "Eino, muista harjoitella saksilla leikkaamista!",
            "child-reply": "Tein sen! Leikkasin tähden.",
            "family-2": "Kiitos tiedosta, toivottavasti Eino paranee pian",
        }
        p.guardian.send_text(p.family_thread, plain["family"])
        p.therapist.send_text(p.child_thread, plain["child"])
        p.child.send_text(p.child_thread, plain["child-reply"])
        p.therapist.send_text(p.family_thread, plain["family-2"])
        p.guardian.send_attachment(p.child_thread, [picture], "image/jpeg", "star.jpg")

        # what each device must see; a sender's own device gets no copy of its message
        want = {
            id(p.therapist): [plain["family"], plain["child-reply"], "picture"],
            id(p.guardian): [plain["child"], plain["child-reply"], plain["family-2"]],
            id(p.guardian2): [*plain.values(), "picture"],
            id(p.child): [plain["child"], "picture"],
        }
        got = {key: live_until(lives[key], len(w)) for key, w in want.items()}
        for key, expected in want.items():
            names = texts(got[key]) + [
                "picture" for m in got[key] if isinstance(m.payload, AttachmentPointer)
            ]
            assert sorted(names) == sorted(expected)
        pictures = [m for m in got[id(p.child)] if isinstance(m.payload, AttachmentPointer)]
        assert len(pictures) == 1
        assert b"".join(p.child.fetch_attachment(pictures[0].payload)) == picture
        for key, live in lives.items():  # nothing more arrives: exactly once
            assert live.poll(0.5) == [], key

        # the guardian's tablet was offline: it gets everything (its own user's messages
        # included) when it connects
        tablet = Live(p.guardian_tablet)
        tablet.connect()
        backlog = live_until(tablet, 5)
        assert sorted(texts(backlog)) == sorted(plain.values())
        assert len(backlog) == 5
        assert tablet.poll(0.5) == []

        # a removed member's devices stop receiving
        p.therapist.api.request(
            "DELETE", f"/cases/{p.case_id}/members/{p.guardian2.device.user_id}"
        )
        p.therapist.send_text(p.family_thread, "Vain Annalle ja Terhille")
        assert texts(live_until(lives[id(p.guardian)], 1)) == ["Vain Annalle ja Terhille"]
        assert lives[id(p.guardian2)].poll(1.0) == []
        assert p.guardian2.api.mailbox(0)["items"] == []
        with pytest.raises(ApiError) as refused:
            p.guardian2.send_text(p.family_thread, "hello?")
        assert refused.value.code == "thread_not_found"

        for live in [*lives.values(), tablet]:
            live.close()
        for m in people.devices:
            assert m.failed == []
    finally:
        server.stop()

    # the privacy test: no plaintext anywhere the server keeps anything
    everything = stored_bytes(tmp_path, database)
    for text in [*plain.values(), "Vain Annalle ja Terhille"]:
        assert text.encode() not in everything, text
    assert b"EINO-PICTURE-MARKER" not in everything
    assert picture[:48] not in everything
    for secret in people.secrets:
        assert secret.encode() not in everything


def test_kill9_loses_nothing_and_delivers_nothing_twice(tmp_path: Path, database: str) -> None:
    server = scenario_server(tmp_path, database)
    try:
        p = onboard(server, tmp_path / "devices")
        receiver = Live(p.guardian2)
        receiver.connect()
        sent = [f"viesti {n}" for n in range(30)]
        ids = []
        for n, text in enumerate(sent[:20]):
            ids.append(
                p.therapist.send(
                    p.family_thread, TextMessage(body=text), client_message_id=f"k-{n}"
                )["id"]
            )
        # the receiver has taken some, maybe not all, when the server dies
        first = receiver.poll(0.3)
        server.kill9()
        server.start()
        # sends after the restart; one is a retry of an accepted send
        again = p.therapist.send(
            p.family_thread, TextMessage(body=sent[19]), client_message_id="k-19"
        )
        assert again["id"] == ids[19]
        for n, text in enumerate(sent[20:], start=20):
            p.therapist.send(p.family_thread, TextMessage(body=text), client_message_id=f"k-{n}")
        rest = receiver.wait_for(lambda got: len(first) + len(got) >= len(sent), 20)
        receiver.poll(0.5)  # and nothing more
        everything = texts(first) + texts(rest)
        assert everything == sent  # all of them, in order, once
        assert receiver.connects >= 2
        # the other guardian was offline the whole time: reads all 30 over HTTP
        assert texts(p.guardian.sync()) == sent
        receiver.close()
    finally:
        server.stop()


def test_two_instances_on_one_postgresql_and_one_redis(tmp_path: Path) -> None:
    if not reachable(REDIS_URL):
        service_missing("Redis", REDIS_URL)
    with fresh_postgres_database() as database:
        shared = {
            "KAARI_REDIS_URL": REDIS_URL,
            "KAARI_REDIS_PREFIX": f"kaari-scn-{os.getpid()}-{time.monotonic_ns()}:",
            "KAARI_BLOB_DIR": str(tmp_path / "blobs"),
        }
        a = scenario_server(tmp_path / "a", database, "a", **shared)
        b = scenario_server(tmp_path / "b", database, "b", **shared)
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        try:
            a.start()
            b.start()
            people = onboard(a, tmp_path / "devices", url=a.url)
            # the therapist and the child are connected to instance B
            for m in (people.therapist, people.child):
                m.api = type(m.api)(b.url, token=m.api.token)
            therapist_live, child_live = Live(people.therapist), Live(people.child)
            therapist_live.connect()
            child_live.connect()
            # the guardian sends through instance A
            started = time.monotonic()
            people.guardian.send_text(people.child_thread, "Terveisiä instanssista A")
            got = live_until(therapist_live, 1, 5)
            elapsed = time.monotonic() - started
            assert texts(got) == ["Terveisiä instanssista A"]
            assert texts(live_until(child_live, 1, 5)) == ["Terveisiä instanssista A"]
            assert elapsed < 5
            # an attachment uploaded through A downloads through B
            people.guardian.send_attachment(people.child_thread, [b"kuva" * 1000], "image/png")
            (message,) = live_until(child_live, 1, 5)
            assert isinstance(message.payload, AttachmentPointer)
            assert b"".join(people.child.fetch_attachment(message.payload)) == b"kuva" * 1000
            therapist_live.close()
            child_live.close()
        finally:
            a.stop()
            b.stop()
