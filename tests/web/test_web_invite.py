"""The first-visit QR in the web app (issue 14, with issue 13's QR rules), headless
Chromium against a real `kaari serve` (SQLite and PostgreSQL): the therapist's Python
reference client (client/matrix, with cross-signing) creates an invite; a parent on a
phone-sized screen opens the invite link carrying a QR with a wrong master key and is
warned in words (409 ``inviter_key_mismatch``: no account is created), then scans the
real QR with the camera (Chromium's fake camera films a video of it; no BarcodeDetector
on Linux, so jsQR reads the frames), creates the account, and the browser's device
verifies the therapist:
the therapist's client then sees the parent's user-signing signature on her master key,
and the family thread says "Terhi is verified". Messages go both ways; nothing typed is
in the database, the blob store or the logs. Signed in, a sibling's invite is read from
a photo of its QR."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import segno
from servers import scenario_server, stored_bytes
from web_browser import Chromium, Page, poll
from web_support import PHONE, choose_language, chromium_in, onboard, shot

from client.matrix import MatrixClient, MatrixHttp
from client.matrix.invite_qr import InviteQr, InviteQrError, parse_invite_qr
from crypto.matrix.canonical import b64encode
from crypto.matrix.signing import verify_json

V3 = "/_matrix/client/v3"
MIA_PASSWORD = "Mian-oma-salasana-7f3e"
CAMERA = "camera.y4m"  # in tmp_path: what the fake camera films (written before it opens)


@pytest.fixture
def chromium(tmp_path: Path) -> Iterator[Chromium]:
    """Chromium with a fake camera filming ``CAMERA`` and the permission granted."""
    extra = [
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-video-capture={tmp_path / CAMERA}",
    ]
    with chromium_in(tmp_path, extra_args=extra) as browser:
        yield browser


def qr_video(text: str, width: int = 640, height: int = 480, frames: int = 3) -> bytes:
    """A YUV4MPEG2 video of the QR of ``text`` (black on white, with its quiet zone,
    grey-scale: the chroma planes 128), the same frame ``frames`` times."""
    rows = [
        bytes(0 if dark else 255 for dark in row)
        for row in segno.make_qr(text).matrix_iter(border=4)
    ]
    scale = (min(width, height) - 40) // len(rows)
    side = len(rows) * scale
    top, left = (height - side) // 2, (width - side) // 2
    luma = bytearray(b"\xff" * (width * height))
    for y in range(side):
        row = bytes(v for v in rows[y // scale] for _ in range(scale))
        start = (top + y) * width + left
        luma[start : start + side] = row
    frame = b"FRAME\n" + bytes(luma) + b"\x80" * (2 * (width // 2) * (height // 2))
    return f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode() + frame * frames


def loaded_jsqr(page: Page) -> bool:
    """Whether the page has fetched the QR decoder's chunk (loaded on first use only)."""
    return bool(
        page.evaluate(
            "performance.getEntriesByType('resource').some(e => e.name.includes('/jsQR-'))"
        )
    )


def keys_query(url: str, token: str, user: str) -> dict[str, Any]:
    r = httpx.post(
        f"{url}{V3}/keys/query",
        json={"device_keys": {user: []}},
        headers={"authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def set_value(page: Page, selector: str, value: str) -> None:
    """Replace a field's text as a paste does (an input event)."""
    page.evaluate(
        f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.focus();"
        f" e.value = {json.dumps(value)};"
        " e.dispatchEvent(new Event('input', {bubbles: true})); })()"
    )


def fill_account(page: Page) -> None:
    page.wait_for("!!document.querySelector('#invite-name')", what="the account form")
    set_value(page, "#invite-name", "Mia")
    set_value(page, "#invite-email", "mia@example.fi")
    set_value(page, "#invite-password", MIA_PASSWORD)


def damaged(qr: str) -> list[str]:
    """Texts that are not a usable invite, one per refusal of the QR's rules."""
    prefix, query = qr.split("?", 1)
    fields = dict(part.split("=", 1) for part in query.split("&"))
    mk = fields["mk"]
    # the last of 43 base64 characters carries two stray bits: non-canonical
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    stray = mk[:42] + alphabet[alphabet.index(mk[42]) + 1]

    def with_(**values: str) -> str:
        return prefix + "?" + "&".join(f"{k}={v}" for k, v in {**fields, **values}.items())

    return [
        "https://example.fi/not-an-invite",
        qr.replace("kaari:invite?", "kaari:invitation?"),
        qr + "&extra=1",
        qr + "&v=1",
        prefix + "?v=1&code=" + fields["code"],
        with_(v="2"),
        with_(code="short"),
        with_(user="terhi"),
        with_(mk=mk[:42]),
        with_(mk=stray),
        with_(mk=mk[:41] + "%2"),
        "x" * 1100,
    ]


def three_languages(page: Page, name: str, wait: str) -> None:
    """Screenshots of the screen in en, fi and sv (``wait``: a JS test per language)."""
    for lang in ("en", "fi", "sv"):
        choose_language(page, lang)
        page.wait_for(wait.replace("LANG", lang))
        shot(page, f"{name}-{lang}-phone.png")
    choose_language(page, "en")


def test_a_parent_accepts_the_invite_from_the_qr_and_verifies_the_therapist(
    tmp_path: Path, database: str, chromium: Chromium
) -> None:
    server = scenario_server(tmp_path, database)
    therapist: MatrixClient | None = None
    hello = "Tervetuloa Kaareen, Mia! Nähdään torstaina."
    reply = "Kiitos Terhi, Eino odottaa jo kovasti"
    try:
        people = onboard(server, guardian=False)
        terhi = people["therapist"]["user"]["matrixUserId"]
        token = people["therapist"]["token"]
        therapist = MatrixClient.open(
            MatrixHttp.connect(server.url, token), tmp_path / "terhi", os.urandom(32)
        )
        master = therapist.bootstrap_cross_signing()
        therapist.sync()
        r = httpx.post(
            f"{server.url}/cases/{people['case']}/invites",
            json={},
            headers={"authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert r.status_code == 201, r.text
        invite = InviteQr.from_invite(r.json())
        assert (invite.inviter_user_id, invite.inviter_master_key) == (terhi, master)
        qr = invite.encode()
        wrong = InviteQr(invite.code, terhi, b64encode(os.urandom(32))).encode()
        (tmp_path / CAMERA).write_bytes(qr_video(qr))  # the therapist's QR, on camera

        # the link form (/app/invite#<the QR's text>) with a QR whose key is not hers
        page = chromium.page()
        page.viewport(*PHONE)
        page.locale("en-GB")
        page.goto(f"{server.url}/app/invite#{wrong}")
        page.wait_for("!!document.querySelector('#invite-text')", 30, "the invite screen")
        assert page.evaluate("document.querySelector('#invite-text').value") == wrong
        assert page.text("#invite-title") == "Your invite"
        # no BarcodeDetector in Chromium on Linux: the camera and the photo are read
        # with jsQR, whose chunk is not fetched until then
        assert page.evaluate("'BarcodeDetector' in globalThis") is False
        assert page.evaluate("!!document.querySelector('#invite-scan')") is True
        assert page.evaluate("!!document.querySelector('#invite-no-scanner')") is False
        assert not loaded_jsqr(page)
        three_languages(
            page,
            "invite",
            "document.querySelector('#invite-title').textContent === "
            "({en: 'Your invite', fi: 'Kutsusi', sv: 'Din inbjudan'})['LANG']",
        )
        # a damaged text is refused before anything is sent, with the code the Python
        # reader (client/matrix/invite_qr.py) gives the same text
        for text in damaged(qr):
            set_value(page, "#invite-text", text)
            page.click("#invite-continue")
            page.wait_for("!!document.querySelector('#invite-error')", 5, f"the error: {text}")
            with pytest.raises(InviteQrError) as refused:
                parse_invite_qr(text)
            code = page.evaluate("document.querySelector('#invite-error').dataset.code")
            assert code == refused.value.code, text
            assert page.text("#invite-error") not in ("", "Something went wrong. Try again.")
        # the fields in another order, the key's "+" and "/" raw, whitespace around it:
        # the same invite to both readers
        fields = dict(part.split("=", 1) for part in wrong.split("?", 1)[1].split("&"))
        raw_key = fields["mk"].replace("%2B", "+").replace("%2F", "/")
        reordered = f"  kaari:invite?mk={raw_key}&user={fields['user']}&code={fields['code']}&v=1\n"
        assert parse_invite_qr(reordered) == parse_invite_qr(wrong)
        set_value(page, "#invite-text", reordered)
        page.click("#invite-continue")
        fill_account(page)
        three_languages(
            page,
            "invite-account",
            "document.querySelector('#account-title').textContent === "
            "({en: 'Create your account', fi: 'Luo tunnus', sv: 'Skapa ditt konto'})['LANG']",
        )
        page.click("#invite-create")
        page.wait_for("!!document.querySelector('#invite-error')", 30, "the key warning")
        assert page.evaluate("document.querySelector('#invite-error').dataset.code") == (
            "inviter_key_mismatch"
        )
        assert page.text(".warning-title") == "Warning: the key does not match"
        assert "Nothing was joined" in page.text("#invite-error")
        three_languages(
            page,
            "invite-mismatch",
            "document.querySelector('.warning-title').textContent === "
            "({en: 'Warning: the key does not match', fi: 'Varoitus: avain ei täsmää',"
            " sv: 'Varning: nyckeln stämmer inte'})['LANG']",
        )
        # nothing was created: no account signs in, the case has no guardian
        r = httpx.post(
            f"{server.url}/auth/login",
            json={"email": "mia@example.fi", "password": MIA_PASSWORD, "device": {"name": "x"}},
            timeout=10,
        )
        assert (r.status_code, r.json()["code"]) == (401, "invalid_credentials")
        r = httpx.get(
            f"{server.url}/cases/{people['case']}/members",
            headers={"authorization": f"Bearer {token}"},
            timeout=10,
        )
        assert "guardian" not in [m["role"] for m in r.json()]

        # the real QR, scanned with the (fake) camera: the account, the device, the
        # verification
        page.goto(f"{server.url}/app/invite")
        page.wait_for("!!document.querySelector('#invite-text')", 30, "the invite screen")
        assert page.evaluate("document.querySelector('#invite-text').value") == ""
        page.click("#invite-scan")
        fill_account(page)  # the scan found the code and went on to the account form
        assert loaded_jsqr(page)
        assert page.evaluate("!!document.querySelector('#invite-scanner')") is False
        page.click("#invite-create")
        page.wait_for("!!document.querySelector('#invite-verified')", 90, "the verification")
        assert page.text("#invite-verified") == "✓ Terhi is verified"
        assert page.evaluate("location.pathname") == "/app/invite"  # the code is out of the URL
        three_languages(
            page,
            "invite-verified",
            "document.querySelector('#invite-verified').textContent.includes("
            "({en: 'Terhi is verified', fi: 'Terhi on varmennettu',"
            " sv: 'Terhi är verifierad'})['LANG'])",
        )

        # the signature on her master key, as keys/query answers it: a signature by one
        # user's user-signing key on another's master key is shown to the signer only
        # (app/keys/directory.py, as the spec's servers do), so it is read with Mia's
        # account (which also shows her user-signing key), and her key checks it
        members = httpx.get(
            f"{server.url}/cases/{people['case']}/members",
            headers={"authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
        mia = "@{}:localhost".format(next(m["userId"] for m in members if m["role"] == "guardian"))
        r = httpx.post(
            f"{server.url}/auth/login",
            json={"email": "mia@example.fi", "password": MIA_PASSWORD, "device": {"name": "c"}},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        check = r.json()["token"]
        people["secrets"].append(check)
        r = httpx.post(
            f"{server.url}{V3}/keys/query",
            json={"device_keys": {mia: [], terhi: []}},
            headers={"authorization": f"Bearer {check}"},
            timeout=10,
        )
        assert r.status_code == 200, r.text
        seen = r.json()
        signed = seen["master_keys"][terhi]
        assert list(signed["keys"].values()) == [master]
        usk = next(iter(seen["user_signing_keys"][mia]["keys"].values()))
        assert list(signed["signatures"].get(mia, {})) == [f"ed25519:{usk}"]
        verify_json(signed, mia, f"ed25519:{usk}", usk)  # raises unless it verifies
        # and Mia's user-signing key is certified by her master key, as the SDK made them
        mia_master = next(iter(seen["master_keys"][mia]["keys"].values()))
        verify_json(seen["user_signing_keys"][mia], mia, f"ed25519:{mia_master}", mia_master)
        r = httpx.post(
            f"{server.url}/auth/logout", headers={"authorization": f"Bearer {check}"}, timeout=10
        )
        assert r.status_code == 204, r.text
        # the therapist's client sees Mia's identity (master key) and her one browser
        # device cross-signed by it, but not the signature on her own key
        therapist.device.track_users([mia])
        therapist.device.directory.mark_changed([mia])
        therapist.query_keys()
        identity = therapist.device.directory.identities.get(mia)
        assert identity is not None
        assert identity.master.public_key == mia_master
        theirs = keys_query(server.url, token, terhi)["master_keys"][terhi]
        assert mia not in theirs.get("signatures", {})

        # the thread: "Terhi is verified" in its header
        page.click("#invite-open")
        page.wait_for("!!document.querySelector('#composer')", 60, "the family thread")
        assert page.evaluate("location.pathname") == f"/app/cases/{people['case']}/family"
        page.wait_for("!!document.querySelector('.verified-badge')", 30, "the verified badge")
        assert page.text(".verified-badge") == "✓ Terhi is verified"

        # messages both ways
        therapist.send_text(people["room"], hello)
        page.wait_for(
            "[...document.querySelectorAll('.msg.theirs .body')]"
            f".some(e => e.textContent === {json.dumps(hello)})",
            60,
            "the therapist's message",
        )
        page.type("#composer", reply)
        page.click("#send")
        got: list[dict[str, Any]] = []

        def reply_arrived() -> bool:
            assert therapist is not None
            got.extend(therapist.sync(timeout_ms=1000).messages)
            return any(m["content"].get("body") == reply for m in got)

        poll(reply_arrived, 60, "the parent's reply at the therapist's client")
        assert next(m for m in got if m["content"].get("body") == reply)["sender"] == mia
        shot(page, "thread-verified-en-phone.png")

        # signed in, a sibling's invite: the same screen joins with the account
        # (POST /invites/redeem, the key checked) and verifies again with the keys the
        # device already holds
        auth = {"authorization": f"Bearer {token}"}
        r = httpx.post(
            f"{server.url}/cases", json={"childDisplayName": "Aino"}, headers=auth, timeout=10
        )
        assert r.status_code == 201, r.text
        sibling = r.json()["id"]
        r = httpx.post(f"{server.url}/cases/{sibling}/invites", json={}, headers=auth, timeout=10)
        assert r.status_code == 201, r.text
        photo = tmp_path / "sibling-qr.png"  # a photo of the sibling's QR, read from a file
        segno.make_qr(InviteQr.from_invite(r.json()).encode()).save(photo, scale=6, border=4)
        page.goto(f"{server.url}/app/invite")
        page.wait_for("!!document.querySelector('#invite-text')", 60, "the invite screen")
        page.set_files("#invite-photo", photo)
        page.click("#invite-join")
        page.wait_for("!!document.querySelector('#invite-verified')", 60, "verified again")
        assert page.text("#invite-verified") == "✓ Terhi is verified"
        page.click("#invite-open")
        page.wait_for("!!document.querySelector('.verified-badge')", 60, "the sibling's badge")
        assert page.evaluate("location.pathname") == f"/app/cases/{sibling}/family"
        r = httpx.get(f"{server.url}/cases/{sibling}/members", headers=auth, timeout=10)
        assert "guardian" in [m["role"] for m in r.json()]
    finally:
        if therapist is not None:
            therapist.close()
            therapist.http.close()
        server.stop()

    everything = stored_bytes(tmp_path, database)
    for text in (hello, reply, MIA_PASSWORD, *people["secrets"]):
        assert text.encode() not in everything, text[:20]
    assert b"Eino odottaa" not in everything
