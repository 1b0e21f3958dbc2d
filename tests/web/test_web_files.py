"""Encrypted files in the web app (headless Chromium against a real `kaari serve`, SQLite
and PostgreSQL), with the therapist's Python reference client on the other side:

- photos in the family thread both ways, in the Python client's attachment format
  (crypto/attachments.py; web/src/files.ts): the therapist's client decrypts the
  browser's photo byte for byte, the browser shows the client's photo decoded; the child
  thread is one tap away and carries messages both ways too;
- documents (app/documents, client/documents.py): the parent opens the therapy plan the
  therapist's client shared (the file the page offers is byte-identical), the therapist
  sees the receipt; the parent asks for the therapy statement with an encrypted note and
  the therapist's client sees the open request and reads the note.

Then none of it (texts, photo bytes, document title and file, the note) is in the
database files, the dump, the blob store or the logs."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import msgspec
from servers import scenario_server, stored_bytes
from web_browser import Chromium, poll
from web_support import (
    PHONE,
    assert_accessible,
    assert_reflows,
    choose_language,
    chromium,
    keyed_devices,
    onboard,
    png,
    shot,
    sign_in,
)

from app.messaging.service import thread_id_of
from client.api import Api
from client.documents import Documents
from client.matrix import MatrixClient, MatrixHttp
from client.matrix.files import fetch_file, pointer_of, send_file
from crypto.attachments import encrypt_stream

__all__ = ["chromium"]  # a fixture (web_support)

ALL = "[...document.querySelectorAll"


def therapist_of(url: str, people: dict[str, Any], profile: Path) -> tuple[MatrixClient, Api]:
    token = people["therapist"]["token"]
    client = MatrixClient.open(MatrixHttp.connect(url, token), profile, os.urandom(32))
    client.sync()
    return client, Api(url, token=token)


def wait_message(client: MatrixClient, room: str, match: Any, what: str) -> dict[str, Any]:
    got: list[dict[str, Any]] = []

    def arrived() -> dict[str, Any] | None:
        got.extend(m for m in client.sync(timeout_ms=1000).messages if m["room_id"] == room)
        return next((m for m in got if match(m["content"])), None)

    found: dict[str, Any] = poll(arrived, 30, what)
    return found


def test_a_parent_exchanges_photos_and_uses_the_child_thread(
    tmp_path: Path, database: str, chromium: Chromium
) -> None:
    server = scenario_server(tmp_path, database)
    therapist: MatrixClient | None = None
    api: Api | None = None
    # both over one 64 KiB record (the format's record boundary, each way)
    theirs = png(200, 150)
    ours = png(160, 150)
    ours_file = tmp_path / "einon-piirustus.png"  # outside the server's files
    ours_file.write_bytes(ours)
    to_child = "Hei Eino! Muista harjoitella saksilla 🙂"
    from_parent = "Eino sanoo kiitos, hän leikkasi tänään ympyrän"
    try:
        people = onboard(server)
        room = people["room"]
        child_room = f"!{thread_id_of(UUID(people['case']), 'child')}:localhost"
        therapist, api = therapist_of(server.url, people, tmp_path / "terhi")
        page = chromium.page()
        page.viewport(*PHONE)
        page.locale("en-GB")
        sign_in(page, server.url)

        # the therapist's client sends a photo: the browser decrypts it and shows it
        send_file(therapist, api, room, [theirs], "image/png", "harjoitus.png")
        page.wait_for(
            "(() => { const i = document.querySelector('.msg.theirs img.photo');"
            " return !!i && i.complete && i.naturalWidth === 200 && i.naturalHeight === 150; })()",
            30,
            "the therapist's photo, decoded",
        )
        assert page.evaluate("document.querySelector('.msg.theirs img.photo').alt") == (
            "Photo: harjoitus.png"
        )

        # a pointer whose hash is not the blob's (a swapped blob): refused, in words
        stream = encrypt_stream([png(8, 8)])
        uploaded = api.upload_attachment(thread_id_of(UUID(people["case"]), "family"), iter(stream))
        good = stream.pointer(str(uploaded["id"]), "image/png", "vaihdettu.png")
        bad = msgspec.to_builtins(good)
        bad["sha256"] = base64.b64encode(hashlib.sha256(b"another").digest()).decode()[:43]
        therapist.send_message(
            room,
            {
                "msgtype": "m.file",
                "body": "vaihdettu.png",
                "info": {"mimetype": "image/png", "size": good.size},
                "kaari.attachment": bad,
            },
        )
        page.wait_for(
            "document.querySelector('.msg.theirs [data-code=attachment_invalid]')"
            "?.textContent === 'The file is damaged or was changed; it was not opened.'",
            30,
            "the swapped file refused",
        )
        assert page.evaluate("document.querySelectorAll('.msg.theirs img.photo').length") == 1

        # the parent attaches one (the file input of the composer, labelled)
        assert page.evaluate(
            "document.querySelector('label[for=photo]').textContent.includes('Attach a photo')"
            " && document.querySelector('#photo').accept === 'image/*'"
            " && document.querySelector('#photo').getAttribute('capture') === 'environment'"
        )
        page.set_files("#photo", ours_file)
        page.wait_for(
            "(() => { const m = document.querySelector('.msg.own');"
            " const i = m && m.querySelector('img.photo');"
            " return !!i && i.naturalWidth === 160 && ['sent', 'delivered']"
            ".includes(m.dataset.status); })()",
            30,
            "the parent's photo sent",
        )
        # the therapist's client decrypts it, byte-identical, from an m.file event of the
        # same shape it sends itself
        message = wait_message(
            therapist,
            room,
            lambda c: c.get("msgtype") == "m.file" and c.get("body") == "einon-piirustus.png",
            "the parent's photo",
        )
        assert message["sender"] == people["guardian"]["user"]["matrixUserId"]
        content = message["content"]
        assert content["body"] == "einon-piirustus.png"
        assert content["info"] == {"mimetype": "image/png", "size": len(ours)}
        pointer = pointer_of(content)
        assert pointer.media_type == "image/png"
        assert pointer.file_name == "einon-piirustus.png"
        assert b"".join(fetch_file(api, pointer)) == ours
        assert therapist.undecryptable() == []
        therapist.sync(timeout_ms=500)  # acknowledged: the parent sees "delivered"
        page.wait_for(
            "document.querySelector('.msg.own').dataset.status === 'delivered'", 60, "delivered"
        )
        assert_accessible(page, "the family thread with photos")
        assert_reflows(page, "the family thread with photos")
        for lang in ("fi", "sv", "en"):
            choose_language(page, lang)
            page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
            shot(page, f"thread-photo-{lang}-phone.png")

        # the child thread: one tap from the family thread
        page.click("#child-thread-link")
        page.wait_for(
            f"location.pathname === '/app/cases/{people['case']}/child'"
            " && !!document.querySelector('#family-thread-link')",
            10,
            "the child thread",
        )
        page.wait_for(
            "document.querySelector('.bar h1').textContent"
            ' === "Eino: the child\'s thread with the therapist"',
            10,
            "the child thread's title",
        )
        therapist.send_text(child_room, to_child)
        page.wait_for(
            f"{ALL}('.msg.theirs .body')].some(e => e.textContent === {json.dumps(to_child)})",
            30,
            "the therapist's message in the child thread",
        )
        # the family thread's photo is not here
        assert page.evaluate("document.querySelectorAll('.msg img.photo').length") == 0
        page.type("#composer", from_parent)
        page.click("#send")
        reply = wait_message(
            therapist,
            child_room,
            lambda c: c.get("body") == from_parent,
            "the parent's message in the child thread",
        )
        assert reply["sender"] == people["guardian"]["user"]["matrixUserId"]
        assert_accessible(page, "the child thread")
        for lang in ("fi", "sv", "en"):
            choose_language(page, lang)
            shot(page, f"child-thread-{lang}-phone.png")
        page.click("#family-thread-link")
        page.wait_for(
            "!!document.querySelector('.msg.theirs img.photo')", 30, "back in the family thread"
        )
    finally:
        if therapist is not None:
            therapist.close()
            therapist.http.close()
        if api is not None:
            api.close()
        server.stop()

    everything = stored_bytes(tmp_path, database)
    for secret in (theirs, ours, to_child.encode(), from_parent.encode()):
        assert secret not in everything
    for part in (theirs[100:164], ours[100:164], b"einon-piirustus", b"harjoitus", b"vaihdettu"):
        assert part not in everything
    for text in people["secrets"]:
        assert text.encode() not in everything


def test_a_parent_opens_a_shared_plan_and_requests_the_statement(
    tmp_path: Path, database: str, chromium: Chromium
) -> None:
    server = scenario_server(tmp_path, database)
    therapist: MatrixClient | None = None
    api: Api | None = None
    title = "Einon terapiasuunnitelma syksy 2026: hienomotoriikka"
    # exactly two 64 KiB records: the blob ends with an empty final record
    plan = b"%PDF-1.4\n" + os.urandom(2 * 65536 - 16) + b"\n%%EOF\n"
    assert len(plan) == 2 * 65536
    note = "Tarvitsemme palautteen lääkärin arviointikäynnille 12.3."
    needed_by = date.today() + timedelta(days=45)
    try:
        people = onboard(server)
        case_id = people["case"]
        therapist, api = therapist_of(server.url, people, tmp_path / "terhi")
        terhi = Documents(therapist, api)
        page = chromium.page()
        page.viewport(*PHONE)
        page.locale("en-GB")
        sign_in(page, server.url)
        # the browser's device is there (its keys published) before the plan is shared: a
        # document's event is encrypted for the devices the family room has then
        anna = people["guardian"]["user"]["matrixUserId"]
        poll(
            lambda: keyed_devices(server.url, people["therapist"]["token"], anna),
            30,
            "the browser's device keys",
        )
        shared = terhi.share(
            case_id,
            "therapy_plan",
            title,
            [plan],
            file_name="terapiasuunnitelma.pdf",
            media_type="application/pdf",
        )

        # the documents screen: the plan with its decrypted title, not opened yet
        page.click("#documents-link")
        row = f".document[data-document-id='{shared['id']}']"
        page.wait_for(
            f'document.querySelector("{row} .doc-title")?.textContent === {json.dumps(title)}',
            30,
            "the plan's decrypted title",
        )
        assert page.text(f"{row} .when") == "Therapy plan"
        assert "Version 1" in page.text(f"{row} .muted-line")
        assert page.text(f"{row} .opened-by") == "Not opened yet"
        for lang in ("fi", "sv", "en"):
            choose_language(page, lang)
            shot(page, f"documents-{lang}-phone.png")

        # open it: downloaded, decrypted, offered as the file it was (saved by the
        # browser under its name, byte-identical); the receipt
        downloads = tmp_path / "downloads"  # outside the server's files
        downloads.mkdir()
        page.call("Browser.setDownloadBehavior", behavior="allow", downloadPath=str(downloads))
        page.click(f"{row} .open-document")
        page.wait_for(f'!!document.querySelector("{row} .saved-file")', 30, "the opened file")
        link = json.loads(
            page.evaluate(
                f'(() => {{ const a = document.querySelector("{row} .saved-file");'
                " return JSON.stringify({download: a.download, type: a.dataset.mediaType}); })()"
            )
        )
        assert link == {"download": "terapiasuunnitelma.pdf", "type": "application/pdf"}
        saved = downloads / "terapiasuunnitelma.pdf"
        poll(lambda: saved.is_file() and saved.stat().st_size == len(plan), 30, "the saved file")
        assert hashlib.sha256(saved.read_bytes()).digest() == hashlib.sha256(plan).digest()
        assert sorted(p.name for p in downloads.iterdir()) == ["terapiasuunnitelma.pdf"]
        page.wait_for(
            f"document.querySelector(\"{row} .opened-by\").textContent === 'Opened by You'",
            30,
            "the receipt on the parent's screen",
        )
        # the therapist sees who opened it
        assert terhi.get(shared["id"]).opened_by == ("Anna",)

        # ask for the therapy statement by a day, with a note
        assert page.evaluate("document.querySelector('#request-kind').value") == (
            "therapy_statement"
        )
        page.evaluate(
            "(() => { const i = document.querySelector('#request-needed-by');"
            f" i.value = '{needed_by.isoformat()}';"
            " i.dispatchEvent(new Event('input', {bubbles: true})); })()"
        )
        page.type("#request-note", note)
        page.click("#request-send")
        page.wait_for("!!document.querySelector('#request-sent')", 30, "the request sent")
        page.wait_for(
            "document.querySelector('.request[data-status=open]')?.textContent"
            ".includes('Therapy statement')",
            10,
            "the open request listed",
        )
        assert_accessible(page, "the documents screen")
        assert_reflows(page, "the documents screen")
        for lang in ("fi", "sv", "en"):
            choose_language(page, lang)
            shot(page, f"documents-request-{lang}-phone.png")

        # the therapist's client: the open request, due that day, and its note decrypted
        open_requests = terhi.requests(case_id, "open")
        assert [(r["kind"], r["neededBy"]) for r in open_requests] == [
            ("therapy_statement", needed_by.isoformat())
        ]
        assert [r["id"] for r in terhi.caseload()["openRequests"]] == [open_requests[0]["id"]]
        event_id = open_requests[0]["noteEventId"]
        assert event_id

        def note_read() -> dict[str, Any] | None:
            assert therapist is not None
            therapist.sync(timeout_ms=500)  # the note's room key, to this device
            return therapist.room_event(open_requests[0]["roomId"], event_id)

        noted: dict[str, Any] = poll(note_read, 30, "the request's note at the therapist's client")
        assert noted["content"] == {"request_id": open_requests[0]["id"], "note": note}

        # a date already past: the server's code in the page's language
        page.evaluate(
            "(() => { const i = document.querySelector('#request-needed-by'); i.min = '';"
            f" i.value = '{(date.today() - timedelta(days=3)).isoformat()}';"
            " i.dispatchEvent(new Event('input', {bubbles: true})); })()"
        )
        page.click("#request-send")
        page.wait_for("!!document.querySelector('#request-error')", 30, "the refusal")
        assert page.evaluate("document.querySelector('#request-error').dataset.code") == (
            "needed_by_past"
        )
        assert page.text("#request-error") == "The date has passed. Choose a later date."

        # a version whose event is another version's (as a server moving event ids would
        # list it): its title is not shown under it, and it cannot be opened
        stream = encrypt_stream([b"%PDF-1.4\n" + os.urandom(500)])
        room_id = terhi.room(case_id)
        blob = api.upload_attachment(room_id[1:].split(":", 1)[0], iter(stream))
        moved = api.post(
            f"/cases/{case_id}/documents",
            {"kind": "other", "contentEventId": shared["contentEventId"], "blobId": blob["id"]},
        )
        page.call("Page.reload")
        other = f".document[data-document-id='{moved['id']}']"
        page.wait_for(
            f'document.querySelector("{other} .doc-title.unreadable")?.textContent'
            " === 'The title cannot be read on this device.'",
            30,
            "the moved event refused",
        )
        assert page.evaluate(f'document.querySelector("{other} .open-document").disabled')
    finally:
        if therapist is not None:
            therapist.close()
            therapist.http.close()
        if api is not None:
            api.close()
        server.stop()

    everything = stored_bytes(tmp_path, database)
    assert title.encode() not in everything
    assert note.encode() not in everything
    assert plan[9:100] not in everything
    assert b"terapiasuunnitelma.pdf" not in everything
    for text in people["secrets"]:
        assert text.encode() not in everything
