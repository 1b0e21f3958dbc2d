"""The first-visit QR payload: made from the invite answer, read back exactly, and every
kind of malformed text refused with its own code."""

from __future__ import annotations

import pytest

from client.matrix.invite_qr import MAX_LENGTH, InviteQr, InviteQrError, parse_invite_qr
from crypto.matrix.signing import Ed25519SigningKey

USER = "@3f2c9d6e-0b1a-4c5d-8e7f-112233445566:kaari.example"


def _key() -> str:
    # a real key, and one with "+" and "/" in it (what percent-encoding must carry)
    while True:
        key = Ed25519SigningKey.generate().public_key
        if "+" in key and "/" in key:
            return key


def _answer(master_key: str | None) -> dict[str, object]:
    return {
        "id": "f6a0b5d2-6f0e-4d35-9c62-1f3c1f9e1a11",
        "code": "ki1.AbC_dEf-0123456789xyzQRSTuvw",
        "role": "guardian",
        "caseId": "0b8b0a0c-2d8e-4d5f-8f67-6c2a6a0f3b10",
        "expiresAt": "2026-12-09T12:00:00Z",
        "inviterUserId": USER,
        "inviterMasterKey": master_key,
    }


def test_the_invite_answer_round_trips_through_the_qr_text() -> None:
    key = _key()
    qr = InviteQr.from_invite(_answer(key))
    text = qr.encode()
    assert text.startswith("kaari:invite?v=1&code=ki1.AbC_dEf-0123456789xyzQRSTuvw&user=%40")
    assert not {"+", "/", "@"} & set(text[len("kaari:") :])  # all percent-encoded
    assert parse_invite_qr(text) == qr
    assert (qr.code, qr.inviter_user_id, qr.inviter_master_key) == (
        "ki1.AbC_dEf-0123456789xyzQRSTuvw",
        USER,
        key,
    )
    # the order of the fields does not matter, a raw "+" is a plus, whitespace around is not
    # part of it (scanners add a newline)
    fields = dict(part.split("=", 1) for part in text.split("?", 1)[1].split("&"))
    reordered = "kaari:invite?" + "&".join(
        f"{k}={fields[k]}" for k in ("mk", "user", "code", "v")
    ).replace("%2B", "+")
    assert parse_invite_qr(f" {reordered}\n") == qr


def test_an_invite_without_the_inviters_key_makes_no_qr() -> None:
    with pytest.raises(InviteQrError) as exc:
        InviteQr.from_invite(_answer(None))
    assert exc.value.code == "no_master_key"


def _good() -> dict[str, str]:
    qr = InviteQr("ki1.AbC_dEf-0123456789xyzQRSTuvw", USER, _key())
    text = qr.encode()
    return dict(part.split("=", 1) for part in text.split("?", 1)[1].split("&"))


def _text(fields: dict[str, str]) -> str:
    return "kaari:invite?" + "&".join(f"{k}={v}" for k, v in fields.items())


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda f: "https://example.org/?" + _text(f).split("?", 1)[1], "not_kaari_invite"),
        (lambda f: "kaari:pair?" + _text(f).split("?", 1)[1], "not_kaari_invite"),
        (lambda f: _text(f) + "&x=1", "unknown_field"),
        (lambda f: _text(f) + "&v=1", "duplicate_field"),
        (lambda f: _text(f) + "&", "malformed"),
        (lambda f: _text(f) + "&novalue", "malformed"),
        (lambda f: _text({k: v for k, v in f.items() if k != "mk"}), "missing_field"),
        (lambda f: _text({k: v for k, v in f.items() if k != "code"}), "missing_field"),
        (lambda f: _text({**f, "v": "2"}), "unsupported_version"),
        (lambda f: _text({**f, "v": ""}), "unsupported_version"),
        (lambda f: _text({**f, "code": "short"}), "bad_code"),
        (lambda f: _text({**f, "code": "ki1.has%20space%20inside"}), "bad_code"),
        (lambda f: _text({**f, "user": "therapist"}), "bad_user"),
        (lambda f: _text({**f, "user": "%40nocolon"}), "bad_user"),
        (lambda f: _text({**f, "mk": f["mk"][:-4]}), "bad_master_key"),
        (lambda f: _text({**f, "mk": f["mk"] + "%3D"}), "bad_master_key"),  # padded
        (lambda f: _text({**f, "mk": "A" * 42 + "%2B"}), "bad_master_key"),  # 33 bytes' bits
        (lambda f: _text({**f, "mk": f["mk"].replace("%2B", "%20")}), "bad_master_key"),
        (lambda f: _text({**f, "code": "%ff%fe"}), "malformed"),
        (lambda f: _text(f) + "&" + "a" * MAX_LENGTH, "too_long"),
    ],
)
def test_malformed_qr_text_is_refused_with_its_code(change: object, code: str) -> None:
    assert callable(change)
    with pytest.raises(InviteQrError) as exc:
        parse_invite_qr(change(_good()))
    assert exc.value.code == code, exc.value
