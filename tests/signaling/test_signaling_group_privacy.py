"""A group call seats several families: none learns who the others are (issue 16)."""

from __future__ import annotations

from typing import Any

from conftest import World
from litestar.testing import TestClient
from rooms_support import guardian_of, join, me, new_case, next_of, socket, state_until, video
from ws_support import close


def test_room_state_and_signals_hide_other_families_user_and_case_ids(
    client: TestClient[Any], world: World
) -> None:
    other_case = new_case(client, world.therapist, "Aino")
    other = guardian_of(client, world.therapist, other_case, "other@example.fi")
    room = video(client, world.therapist, [world.case_id, other_case], groupKind="children")
    t, a, b = (socket(client, s) for s in (world.therapist, world.guardian, other))
    try:
        join(t, room)
        join(a, room)
        join(b, room)
        devices = [str(world.guardian.device_id), str(other.device_id)]
        t.send_json({"type": "room_admit", "roomId": room, "deviceIds": devices})

        def everyone_admitted(state: dict[str, Any]) -> bool:
            return len(state["participants"]) == 3 and all(
                p["status"] == "admitted" for p in state["participants"]
            )

        seen_by_t, seen_by_a, seen_by_b = (state_until(ws, everyone_admitted) for ws in (t, a, b))
        # the therapist leads the group: knows everyone
        assert me(seen_by_t, other)["userId"] == str(other.user_id)
        assert me(seen_by_t, other)["caseId"] == str(other_case)
        # each family knows itself and the therapist...
        assert me(seen_by_a, world.guardian)["userId"] == str(world.guardian.user_id)
        assert me(seen_by_a, world.therapist)["userId"] == str(world.therapist.user_id)
        # ...but not the other family: a pseudonym, no case
        hidden = me(seen_by_a, other)
        assert hidden["userId"] != str(other.user_id)
        assert hidden["caseId"] is None
        assert me(seen_by_b, world.guardian)["userId"] != str(world.guardian.user_id)
        assert str(world.guardian.user_id) not in str(seen_by_b)
        assert str(world.case_id) not in str(seen_by_b)

        # a signal from the other family carries the same pseudonym
        b.send_json(
            {
                "type": "signal",
                "roomId": room,
                "to": str(world.guardian.device_id),
                "kind": "offer",
                "payload": {"sdp": "v=0"},
            }
        )
        got = next_of(a, "signal")
        assert got["fromUser"] == hidden["userId"]
        b.send_json(
            {
                "type": "signal",
                "roomId": room,
                "to": str(world.therapist.device_id),
                "kind": "offer",
                "payload": {"sdp": "v=0"},
            }
        )
        assert next_of(t, "signal")["fromUser"] == str(other.user_id)
    finally:
        for ws in (t, a, b):
            close(ws)
