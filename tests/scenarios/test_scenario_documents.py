"""Therapy documents end to end against a real `kaari serve` (SQLite and PostgreSQL).

The therapist's Matrix device shares a therapy plan (a PDF: an encrypted blob and an
``org.kaari.document`` event of the documents room); the guardian Anna opens it on her phone
(the reference client) and on a second device (`kaari client documents open` in a
terminal), byte for byte the file that was shared; the therapist sees "opened by Anna".
The period's 60-days reminder reaches Anna's push subscription with the period's id and
the offer; her terminal asks for the therapy statement from those ids alone; the
therapist's caseload shows the request and the period without a statement; the therapist
shares the statement; the request closes and Anna's phone is told at once over its
WebSocket. Then neither a title, a file name nor the files' bytes are found in the
database files (or the PostgreSQL dump), the blob store or the logs.
"""

from __future__ import annotations

import json
import os
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from matrix_onboarding import PASSWORD, Devices, onboard
from push_service import PushService
from servers import kaari_client, scenario_server, stored_bytes
from websockets.sync.client import connect

from client.api import Api
from client.documents import Documents


def documents(devices: Devices, name: str) -> Documents:
    """A person's Matrix device and its Kaari API session (the same device)."""
    return Documents(devices.open(name), Api(devices.url, token=devices.tokens[name]))


class Socket:
    """A device's /ws connection, collecting live events."""

    def __init__(self, api: Api) -> None:
        ticket = api.post("/ws/ticket")["ticket"]
        self.ws = connect(api.ws_url(ticket), open_timeout=10)
        self.ws.__enter__()  # this object owns the connection (closed in close())
        hello = json.loads(self.ws.recv(timeout=10))
        assert hello["type"] == "hello", hello
        self.events: list[dict[str, Any]] = []

    def wait_for(self, name: str, seconds: float = 10.0) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while True:
            for e in self.events:
                if e.get("event") == name:
                    return e
            left = deadline - time.monotonic()
            assert left > 0, f"no {name} in time: {self.events}"
            try:
                frame = json.loads(self.ws.recv(timeout=left))
            except TimeoutError:
                continue
            if frame.get("type") == "event":
                self.events.append(frame)

    def close(self) -> None:
        self.ws.close()


def wait_push(push: PushService, sub: Any, kind: str, seconds: float = 15.0) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    while True:
        found = [p for p in push.for_subscription(sub) if p["type"] == kind]
        if found:
            result: dict[str, Any] = found[0]
            return result
        assert time.monotonic() < deadline, f"no {kind} push in time"
        time.sleep(0.1)


def test_documents_end_to_end(tmp_path: Path, database: str) -> None:
    push = PushService()
    server = scenario_server(
        tmp_path,
        database,
        KAARI_REMINDER_INTERVAL_SECONDS="0.3",
        KAARI_NOTIFY_POLL_SECONDS="0.2",
        KAARI_PUSH_ALLOW_LOOPBACK="true",  # the push-service stand-in
    )
    plain = {
        "plan-title": "Einon terapiasuunnitelma: kotiharjoittelu ja yhteydenpito",
        "plan-file": "einon-terapiasuunnitelma.pdf",
        "statement-title": "Terapiapalaute lääkärin arviointikäyntiä varten",
        "statement-file": "einon-terapiapalaute-2027.pdf",
        "note": "Lääkärikäynti on 12. maaliskuuta",
    }
    plan = b"%PDF-1.7\n" + os.urandom(150_000) + b"EINO-PLAN-MARKER\n%%EOF\n"
    statement = b"%PDF-1.7\n" + os.urandom(90_000) + b"EINO-STATEMENT-MARKER\n%%EOF\n"
    try:
        people = onboard(server)
        case_id = people.case_id
        devices = Devices(people, tmp_path / "mx", server.url)
        therapist = documents(devices, "therapist")
        anna = documents(devices, "anna")
        for d in (therapist, anna):
            d.matrix.sync()
        # Anna's second device: a terminal signed in before anything is shared
        terminal = tmp_path / "anna-terminal"

        def cli(*args: str, stdin: str = "") -> str:
            done = kaari_client(terminal, *args, stdin=stdin, tz="Europe/Helsinki")
            assert done.returncode == 0, done.stderr
            return done.stdout

        cli("login", "--server", server.url, "--email", "anna@example.fi",
            "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
        sub = push.subscribe()
        anna.api.post("/me/push-subscriptions", sub.as_json())

        # the therapist shares the therapy plan; both of Anna's devices open it
        shared = therapist.share(
            case_id, "therapy_plan", plain["plan-title"], [plan[:70_000], plan[70_000:]],
            file_name=plain["plan-file"], media_type="application/pdf",
        )  # fmt: skip
        assert shared["kind"] == "therapy_plan"
        assert shared["version"] == 1
        (listed,) = anna.documents(case_id)
        assert listed.title == plain["plan-title"]
        assert listed.file_name == plain["plan-file"]
        assert listed.media_type == "application/pdf"
        doc, chunks = anna.open(shared["id"])
        assert b"".join(chunks) == plan
        out = tmp_path / "plan-from-terminal.pdf"
        saved = cli("documents", "open", shared["id"][:8], str(out))
        assert plain["plan-title"] in saved
        assert out.read_bytes() == plan
        (seen,) = therapist.documents(case_id)
        assert seen.opened_by == ("Anna",)  # one person, however many devices
        assert "opened by Anna" in cli("documents", "list")

        # the renewal: a period ending within 60 days; its reminder offers the request
        today = date.today()
        period = therapist.api.post(
            f"/cases/{case_id}/periods",
            {"payer": "kela", "startsOn": (today - timedelta(days=300)).isoformat(),
             "endsOn": (today + timedelta(days=45)).isoformat(), "sessionsGranted": 30},
        )  # fmt: skip
        ending = wait_push(push, sub, "period_ending")
        ids = ending["ids"]
        assert ids["periodId"] == period["id"]
        assert ids["requestKind"] == "therapy_statement"
        needed_by = (today + timedelta(days=30)).isoformat()
        asked = cli("documents", "request", "--kind", ids["requestKind"], "--period",
                    ids["periodId"], "--needed-by", needed_by, "--note", plain["note"])  # fmt: skip
        assert "therapy statement" in asked
        caseload = therapist.caseload()
        (open_request,) = caseload["openRequests"]
        assert open_request["periodId"] == period["id"]
        assert open_request["neededBy"] == needed_by
        (without,) = caseload["periodsWithoutStatement"]
        assert without["periodId"] == period["id"]
        assert without["openRequestId"] == open_request["id"]

        # the therapist shares the statement: the request closes, Anna's phone hears it
        socket = Socket(anna.api)
        try:
            answer = therapist.share(
                case_id, "therapy_statement", plain["statement-title"], [statement],
                file_name=plain["statement-file"], media_type="application/pdf",
                period_id=period["id"],
            )  # fmt: skip
            told = socket.wait_for("document_request_closed")
        finally:
            socket.close()
        assert told["ids"]["requestId"] == open_request["id"]
        assert told["ids"]["status"] == "fulfilled"
        assert told["ids"]["versionId"] == answer["id"]
        (closed,) = anna.requests(case_id)
        assert closed["status"] == "fulfilled"
        assert closed["fulfilledBy"] == answer["id"]
        wait_push(push, sub, "document_request_closed")
        after = therapist.caseload()
        assert after["openRequests"] == []
        assert after["periodsWithoutStatement"] == []
        doc, chunks = anna.open(answer["id"])
        assert doc.title == plain["statement-title"]
        assert b"".join(chunks) == statement
        therapist.api.request(
            "PUT", f"/documents/{answer['documentId']}/given-to-doctor", json={"given": True}
        )
        assert "also given to the doctor" in cli("documents", "list")
        for d in (therapist, anna):
            d.matrix.close()
    finally:
        server.stop()
        push.close()

    everything = stored_bytes(tmp_path, database)
    for text in plain.values():
        assert text.encode() not in everything, text
    for marker in (b"EINO-PLAN-MARKER", b"EINO-STATEMENT-MARKER"):
        assert marker not in everything
    assert plan[9:60] not in everything
    assert statement[9:60] not in everything
    for secret in people.secrets:
        assert secret.encode() not in everything
