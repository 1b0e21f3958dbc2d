"""The Matrix client's store survives a kill: state written before ciphertexts leave, each
sync's messages and position committed together, messages to the app exactly once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import World
from litestar.testing import TestClient
from mx_client_support import Devices, family_room


class Killed(Exception):
    pass


def test_kill_and_restart_of_the_client_store_loses_nothing(
    client: TestClient[Any], world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    devices = Devices(client, tmp_path)
    room = family_room(world.case_id)
    terhi, anna = devices.open(world.therapist, "terhi"), devices.open(world.guardian, "anna")
    for c in (terhi, anna):
        c.sync()
    first = anna.send_text(room, "Yksi")
    assert [m["event_id"] for m in terhi.sync().messages] == [first]

    # killed in the middle of a sync: decrypted, but not committed
    second = anna.send_text(room, "Kaksi")

    def die(self: Any, since: str) -> None:
        raise Killed

    with monkeypatch.context() as m:
        m.setattr(type(terhi.store), "set_since", die)
        with pytest.raises(Killed):
            terhi.sync()
    # the process is gone: reopen from disk with the same secret
    terhi = devices.open(world.therapist, "terhi")
    assert terhi.texts(room) == ["Yksi"]
    got = terhi.sync().messages
    assert [m["event_id"] for m in got] == [second]
    assert terhi.sync().messages == []  # and not again
    assert terhi.texts(room) == ["Yksi", "Kaksi"]

    # killed after sharing a room key was persisted but before it was sent
    anna_calls: list[str] = []
    send_to_device = anna.http.send_to_device

    def lost(event_type: str, txn_id: str, body: dict[str, Any]) -> None:
        anna_calls.append(event_type)
        raise Killed

    anna.http.send_to_device = lost  # type: ignore[method-assign]
    _, tablet = devices.login("therapist@example.fi", "tablet")
    with pytest.raises(Killed):
        anna.send_text(room, "Kolme")
    assert anna_calls == ["m.room.encrypted"]
    anna.http.send_to_device = send_to_device  # type: ignore[method-assign]
    anna = devices.open(world.guardian, "anna")  # the queued request goes out on start
    third = anna.send_text(room, "Kolme")
    assert [m["content"]["body"] for m in tablet.sync().messages] == ["Kolme"]
    assert [m["event_id"] for m in terhi.sync().messages] == [third]

    # the restarted sender keeps its Olm sessions and its Megolm session
    assert len(terhi.messages(room)) == 3
    claims: list[dict[str, Any]] = []
    keys_claim = anna.http.keys_claim

    def claim(body: dict[str, Any]) -> dict[str, Any]:
        claims.append(body)
        return keys_claim(body)

    anna.http.keys_claim = claim  # type: ignore[method-assign]
    fourth = anna.send_text(room, "Neljä")
    assert claims == []
    assert [m["event_id"] for m in terhi.sync().messages] == [fourth]
