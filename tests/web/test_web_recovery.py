"""The parent's devices and recovery key in headless Chromium against a real `kaari
serve` (SQLite and PostgreSQL): device A reads and answers the therapist's Python
reference client and saves a recovery key (Matrix key backup, made and uploaded by
matrix-sdk-crypto-wasm); a second browser profile B signs in fresh, sees the earlier
messages as unreadable until it enters the recovery key (a wrong one is refused in
words), then reads them; B's device list shows both and signing A out there sends A to
the sign-in screen. The parent's Python client restores the same backup with the same
key (the spec's recovery key format), then makes a new backup, which the browser restores
with the Python client's key (the old key is refused). Nothing typed, and not the key,
is anywhere the server keeps anything."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import httpx
from servers import scenario_server, stored_bytes
from web_browser import Chromium, Page, poll
from web_support import (
    PASSWORD,
    PHONE,
    bodies,
    choose_language,
    chromium,
    keyed_devices,
    onboard,
    shot,
    sign_in,
)

from client.matrix import MatrixClient, MatrixHttp
from client.matrix.receipts import READ_EVENT
from crypto.matrix.backup import decode_recovery_key, encode_recovery_key

__all__ = ["chromium"]  # a fixture (web_support)

ALL = "[...document.querySelectorAll"


def replace_text(page: Page, selector: str, text: str) -> None:
    """Select the field's text and type over it (input events, as a keyboard would)."""
    page.evaluate(f"document.querySelector({json.dumps(selector)}).select()")
    page.type(selector, text)


def backup_count(url: str, token: str) -> int:
    r = httpx.get(
        f"{url}/_matrix/client/v3/room_keys/version",
        headers={"authorization": f"Bearer {token}"},
        timeout=10,
    )
    return int(r.json()["count"]) if r.status_code == 200 else -1


def test_a_parent_saves_the_recovery_key_and_a_second_device_restores_the_history(
    tmp_path: Path, database: str, chromium: Chromium
) -> None:
    server = scenario_server(tmp_path, database)
    therapist: MatrixClient | None = None
    first = "Hei Anna, torstain kotikäynti siirtyy kello 15:een."
    answer = "Sopii hyvin, Eino odottaa jo kovasti!"
    second = "Muistakaa harjoitella sakset-tehtävää kolme kertaa."
    recovery_key = ""
    py_key = ""
    try:
        people = onboard(server)
        room = people["room"]
        anna = people["guardian"]["user"]["matrixUserId"]
        setup_token = people["guardian"]["token"]  # the parent's device from the invite
        therapist = MatrixClient.open(
            MatrixHttp.connect(server.url, people["therapist"]["token"]),
            tmp_path / "terhi",
            os.urandom(32),
        )
        therapist.sync()

        # device A: signs in, reads the therapist's message and answers
        a = chromium.page()
        a.viewport(*PHONE)
        a.locale("en-GB")
        a.goto(f"{server.url}/app/")
        sign_in(a, timeout=90)
        device_a = poll(
            lambda: keyed_devices(server.url, people["therapist"]["token"], anna),
            30,
            "device A's keys",
        )[0]
        first_id = therapist.send_text(room, first)
        a.wait_for(
            f"{ALL}('.msg.theirs .body')].some(e => e.textContent === {json.dumps(first)})",
            30,
            "the therapist's message on A",
        )
        a.type("#composer", answer)
        a.click("#send")
        a.wait_for(
            f"{ALL}('.msg.own')].some(e => ['sent', 'delivered'].includes(e.dataset.status))",
            30,
            "A's answer sent",
        )
        assert backup_count(server.url, setup_token) == -1  # no backup yet

        # A saves the recovery key: shown once, typed back to confirm
        a.click("#recovery-link")
        a.wait_for("document.querySelector('#backup-state')?.dataset.state === 'none'", 30)
        assert a.text("#backup-state") == "Your messages are not backed up yet."
        a.click("#create-key")
        a.wait_for("!!document.querySelector('#recovery-key')", 30, "the recovery key")
        recovery_key = a.text("#recovery-key")
        groups = recovery_key.split(" ")
        assert len(groups) == 12, recovery_key
        assert all(len(g) == 4 for g in groups), recovery_key
        private = decode_recovery_key(recovery_key)  # the spec's format, parity and all
        assert encode_recovery_key(private) == recovery_key
        for lang in ("fi", "sv", "en"):
            choose_language(a, lang)
            shot(a, f"recovery-key-{lang}-phone.png")
        a.click("#written")
        # a typo in the confirmation: refused, nothing made on the server
        wrong = encode_recovery_key(os.urandom(32))
        a.type("#confirm-key", wrong)
        a.click("#confirm")
        a.wait_for("!!document.querySelector('#recovery-error')", 30, "the mismatch")
        assert a.evaluate("document.querySelector('#recovery-error').dataset.code") == (
            "recovery_key_mismatch"
        )
        assert a.text("#recovery-error") == "That is not the key shown. Check it and type it again."
        assert backup_count(server.url, setup_token) == -1
        replace_text(a, "#confirm-key", recovery_key)
        a.click("#confirm")
        a.wait_for("!!document.querySelector('#recovery-saved')", 30, "the key saved")
        # the therapist's session and A's own are in the backup
        poll(lambda: backup_count(server.url, setup_token) >= 2, 30, "A's room keys backed up")
        shot(a, "recovery-saved-en-phone.png")
        a.click("#to-messages")
        a.wait_for("!!document.querySelector('#composer')", 30, "A's thread again")
        # a room key that arrives later is backed up too (after A's next sync): the
        # therapist's client starts a new Megolm session for the second message
        before = backup_count(server.url, setup_token)
        therapist.device.invalidate_room_session(room)
        second_id = therapist.send_text(room, second)
        a.wait_for(
            f"{ALL}('.msg.theirs .body')].some(e => e.textContent === {json.dumps(second)})",
            30,
            "the second message on A",
        )
        poll(
            lambda: backup_count(server.url, setup_token) == before + 1,
            30,
            "the later room key backed up",
        )

        # A's open thread sent one encrypted read receipt for each of them: two more of
        # A's events in the history, which a new device cannot read before the restore
        # either (then they decrypt and leave the thread: a receipt is no message)
        def a_read() -> list[str]:
            assert therapist is not None
            therapist.sync(timeout_ms=500)
            return [
                m["content"]["event_id"]
                for m in therapist.messages(room)
                if m["type"] == READ_EVENT and m["sender"] == anna
            ]

        poll(lambda: a_read() == [first_id, second_id], 30, "A's receipts")

        # device B: a second browser profile; the parent signs in fresh
        b = chromium.new_profile_page(f"{server.url}/app/")
        b.viewport(*PHONE)
        b.locale("en-GB")
        sign_in(b, timeout=90)
        b.wait_for(f"{ALL}('.msg .body')].length === 5", 60, "the history on B")
        assert b.evaluate(f"{ALL}('.msg .body.unreadable')].length") == 5
        assert bodies(b, "theirs") == ["This message cannot be read on this device."] * 2
        b.wait_for("!!document.querySelector('#restore-offer')", 30, "the restore offer")
        assert b.text("#restore-offer") == "Restore messages with your recovery key"
        shot(b, "restore-offer-en-phone.png")
        b.click("#restore-offer")
        b.wait_for("document.querySelector('#backup-state')?.dataset.state === 'other'", 30)

        # a wrong key (well-formed, another key) and a typo: refused in words
        b.type("#restore-key", wrong)
        b.click("#restore")
        b.wait_for("!!document.querySelector('#recovery-error')", 30, "the wrong key")
        assert b.evaluate("document.querySelector('#recovery-error').dataset.code") == (
            "recovery_key_wrong"
        )
        assert b.text("#recovery-error") == (
            "This recovery key does not open your backup. Check that it is your newest key."
        )
        texts = {
            "fi": "Tämä palautusavain ei avaa varmuuskopiotasi."
            " Tarkista, että se on uusin avaimesi.",
            "sv": "Den här återställningsnyckeln öppnar inte din säkerhetskopia."
            " Kontrollera att det är din senaste nyckel.",
        }
        for lang, text in texts.items():
            choose_language(b, lang)
            assert b.text("#recovery-error") == text
            shot(b, f"restore-wrong-{lang}-phone.png")
        choose_language(b, "en")
        shot(b, "restore-wrong-en-phone.png")
        typo = recovery_key[:-1] + ("2" if recovery_key[-1] != "2" else "3")
        replace_text(b, "#restore-key", typo)
        b.click("#restore")
        b.wait_for(
            "document.querySelector('#recovery-error')?.dataset.code === 'recovery_key_invalid'",
            30,
            "the typo",
        )
        assert "Check it for typos" in b.text("#recovery-error")
        assert b.evaluate(f"{ALL}('.msg')].length") == 0  # not on the thread meanwhile

        # a second tab of B shows the thread meanwhile (it relays through B's first tab)
        b2 = chromium.new_profile_page(f"{server.url}/app/", like=b)
        b2.viewport(*PHONE)
        b2.wait_for(f"{ALL}('.msg .body.unreadable')].length === 5", 60, "B's second tab")

        # the right key: the keys come down from the backup, the history reads
        replace_text(b, "#restore-key", recovery_key.replace(" ", "\n", 3))
        b.click("#restore")
        b.wait_for("!!document.querySelector('#restored')", 60, "restored")
        # the open thread in the other tab reads again by itself (the restore's gap event)
        b2.wait_for(
            f"{ALL}('.msg .body')].length === 3 && !document.querySelector('.msg .unreadable')",
            30,
            "the other tab's thread decrypted",
        )
        assert bodies(b2, "theirs") == [first, second]
        chromium.close_page(b2)
        assert b.text("#restored").startswith("Restored 3 message keys"), b.text("#restored")
        shot(b, "restored-en-phone.png")
        b.click("#to-messages")
        b.wait_for(
            f"{ALL}('.msg .body')].length === 3 && !document.querySelector('.msg .unreadable')",
            60,
            "the history decrypted on B",
        )
        assert bodies(b, "theirs") == [first, second]
        assert bodies(b, "own") == [answer]
        assert not b.evaluate("!!document.querySelector('#restore-offer')")
        shot(b, "thread-restored-en-phone.png")

        # B's devices: A, B (this device) and the invite's setup device; B signs A out
        b.click("#devices-link")
        b.wait_for(f"{ALL}('.device')].length === 3", 30, "the device list")
        listed: list[dict[str, Any]] = json.loads(
            b.evaluate(
                f"JSON.stringify({ALL}('.device')].map(e => ({{id: e.dataset.deviceId,"
                " current: e.classList.contains('current'),"
                " name: e.querySelector('.device-name').textContent})))"
            )
        )
        current = [d for d in listed if d["current"]]
        assert len(current) == 1
        assert current[0]["name"] == "Kaari web (Linux) This device"
        assert device_a in {d["id"] for d in listed if not d["current"]}
        assert {d["name"] for d in listed} >= {"setup", "Kaari web (Linux)"}
        for lang in ("fi", "sv", "en"):
            choose_language(b, lang)
            shot(b, f"devices-{lang}-phone.png")
        b.click(f"[data-device-id='{device_a}'] .revoke")
        b.wait_for("!!document.querySelector('[role=alertdialog]')", 10, "the confirmation")
        assert b.text("[role=alertdialog] p") == (
            "Sign out “Kaari web (Linux)”? It can no longer read or send messages."
        )
        b.wait_for("document.activeElement.id === 'revoke-no'", 10, "the focus on the question")
        shot(b, "devices-confirm-en-phone.png")
        b.click("#revoke-no")  # changed its mind: nothing happens
        assert not b.evaluate("!!document.querySelector('[role=alertdialog]')")
        assert b.evaluate(f"{ALL}('.device')].length") == 3
        b.click(f"[data-device-id='{device_a}'] .revoke")
        b.click("#revoke-yes")
        b.wait_for("!!document.querySelector('#revoked')", 30, "A signed out")
        b.wait_for(f"{ALL}('.device')].length === 2", 30, "the list without A")
        assert b.text("#revoked") == "“Kaari web (Linux)” was signed out."
        # A: its next request is refused (401) and the app goes to the sign-in screen,
        # taking its crypto store with it
        a.wait_for("!!document.querySelector('#email')", 60, "A at the sign-in screen")
        assert a.evaluate("location.pathname") == "/app/signin"
        stores = a.evaluate(
            "indexedDB.databases().then(all => JSON.stringify(all.map(d => d.name)))"
        )
        assert not [n for n in json.loads(stores) if n.startswith("kaari-crypto-")]
        # a device already gone: the server's code in words
        status = httpx.delete(
            f"{server.url}/devices/{device_a}",
            headers={"authorization": f"Bearer {setup_token}"},
            timeout=10,
        )
        assert status.status_code == 404
        assert status.json()["code"] == "device_not_found"

        # the parent's Python client restores the same backup with the same key
        r = httpx.post(
            f"{server.url}/auth/login",
            json={"email": "anna@example.fi", "password": PASSWORD, "device": {"name": "py"}},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        people["secrets"].append(r.json()["token"])
        py = MatrixClient.open(
            MatrixHttp.connect(server.url, r.json()["token"]), tmp_path / "anna-py", os.urandom(32)
        )
        try:
            py.sync()
            readable = py.restore_backup(recovery_key) + py.load_history(room)
            assert {first, second, answer} <= {m["content"].get("body") for m in readable}
            assert py.undecryptable() == []
            # and makes a new backup (a new recovery key): the browser's old key no
            # longer opens it, the Python client's key does
            py_key = py.create_backup()
            people["secrets"].append(py_key)
        finally:
            py.close()
            py.http.close()
        b.click("#recovery-link")
        b.wait_for("document.querySelector('#backup-state')?.dataset.state === 'other'", 30)
        b.wait_for("!!document.querySelector('#restore-key')", 10, "the restore form")
        b.type("#restore-key", recovery_key)
        b.click("#restore")
        b.wait_for(
            "document.querySelector('#recovery-error')?.dataset.code === 'recovery_key_wrong'",
            30,
            "the old key refused",
        )
        replace_text(b, "#restore-key", py_key)
        b.click("#restore")
        b.wait_for("!!document.querySelector('#restored')", 60, "restored from Python's backup")
        b.click("#to-messages")
        b.wait_for(f"{ALL}('.msg .body')].length === 3", 60, "B's thread")
        assert bodies(b, "theirs") == [first, second]
        b.click("#recovery-link")  # this device now backs up to the Python client's backup
        b.wait_for("document.querySelector('#backup-state')?.dataset.state === 'active'", 30)
    finally:
        if therapist is not None:
            therapist.close()
            therapist.http.close()
        server.stop()

    # the privacy check: no message, no recovery key (in any form) where the server keeps
    # anything
    everything = stored_bytes(tmp_path, database)
    assert recovery_key
    private = decode_recovery_key(recovery_key)
    for secret in (
        first,
        answer,
        second,
        recovery_key,
        recovery_key.replace(" ", ""),
        py_key.replace(" ", ""),
        base64.b64encode(private).decode().rstrip("="),
        *people["secrets"],
    ):
        assert secret.encode() not in everything, secret[:12]
    assert private not in everything
