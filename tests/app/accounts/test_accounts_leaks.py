"""What accounts must not give away (issue 16): other organisations' e-mail addresses,
and names that spoof other people in every UI."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import World
from litestar.testing import TestClient
from support import PASSWORD, accept_invite, assert_problem


def invite(client: TestClient[Any], world: World) -> str:
    r = client.post(f"/cases/{world.case_id}/invites", json={}, headers=world.therapist.headers)
    assert r.status_code == 201, r.text
    code: str = r.json()["code"]
    return code


def accept(client: TestClient[Any], code: str, email: str, name: str = "New Person") -> Any:
    body = {
        "code": code,
        "email": email,
        "password": PASSWORD,
        "displayName": name,
        "device": {"name": "phone"},
    }
    return client.post("/invites/accept", json=body)


def without_instance(r: Any) -> dict[str, Any]:
    body: dict[str, Any] = r.json()
    body.pop("instance", None)
    return body


def test_an_invite_does_not_tell_which_addresses_other_organisations_hold(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    used = invite(client, world)
    accept_invite(client, used, "someone@example.fi")
    used_answer = accept(client, used, "nobody@example.fi")
    assert_problem(used_answer, 410, "invite_used")

    # an address of another organisation answers exactly as a used invite does...
    code = invite(client, world)
    r = accept(client, code, "xguardian1@example.fi")
    assert_problem(r, 410, "invite_used")
    assert without_instance(r) == without_instance(used_answer)
    # ...and spends the invite, so one invite is one probe at most
    assert without_instance(accept(client, code, "fresh@example.fi")) == without_instance(
        used_answer
    )
    # the caller's own organisation may say so: they can sign in and redeem the invite
    assert_problem(
        accept(client, invite(client, world), "guardian1@example.fi"), 409, "email_taken"
    )


SPOOFS = [
    "Anna\u202egnivah",  # right-to-left override
    "An\u2066na\u2069",  # isolates
    "Anna\u200f",  # right-to-left mark
    "An\u200bna",  # zero-width space
    "\u2060Anna",  # word joiner
    "Anna\ufeff",  # BOM
    "An\u00adna",  # soft hyphen
    "Anna\U000e0041",  # tag character
    "Anna\ufdd0",  # non-character
    "Anna\uffff",  # non-character
    "Anna\U0010fffe",  # non-character in a private-use plane
    "Anna\ue000",  # private use
    "Anna\u0085",  # C1 control
    "\u3164",  # Hangul filler: invisible
    "Anna\u2028x",  # line separator
]


@pytest.mark.parametrize("name", SPOOFS)
def test_names_refuse_bidi_overrides_invisible_and_non_characters(
    client: TestClient[Any], world: World, name: str
) -> None:
    h = world.therapist.headers
    assert_problem(
        client.post("/cases", json={"childDisplayName": name}, headers=h), 422, "validation_error"
    )
    assert_problem(
        client.patch("/me", json={"displayName": name}, headers=h), 422, "validation_error"
    )
    assert_problem(
        accept(client, invite(client, world), "n@example.fi", name), 422, "validation_error"
    )
    login = {"email": "guardian1@example.fi", "password": PASSWORD, "device": {"name": name}}
    assert_problem(client.post("/auth/login", json=login), 422, "validation_error")


@pytest.mark.parametrize(
    "name", ["Eino", "Åsa Öberg-Ståhl", "محمد", "नमस्ते", "👨\u200d👩\u200d👧", "❤\ufe0f Mia", "Zoë"]
)
def test_real_names_in_any_script_are_fine(
    client: TestClient[Any], world: World, name: str
) -> None:
    r = client.post("/cases", json={"childDisplayName": name}, headers=world.therapist.headers)
    assert r.status_code == 201, r.text
    assert r.json()["childName"] == name
