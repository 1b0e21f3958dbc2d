"""Rooms of video appointments over the WebSocket: entry rules, the waiting room, the
relay, limits and resume (docs/signaling.md). TestClient, SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import msgspec
from conftest import World
from litestar.testing import TestClient
from rooms_support import (
    guardian_of,
    join,
    me,
    new_case,
    next_of,
    pair_child,
    refused,
    socket,
    state_until,
    statuses,
    video,
)
from support import accept_invite, login
from ws_support import close


def rooms_of(client: TestClient[Any]) -> Any:
    return client.app.state.signaling.rooms


def test_waiting_room_admission_and_ordered_relay(client: TestClient[Any], world: World) -> None:
    room = video(client, world.therapist, [world.case_id])
    t, g = socket(client, world.therapist), socket(client, world.guardian)
    try:
        state = join(t, room)
        assert state["type"] == "room_state", state
        assert me(state, world.therapist)["status"] == "admitted"
        assert me(state, world.therapist)["order"] == 1
        assert me(state, world.therapist)["role"] == "therapist"

        state = join(g, room)
        assert me(state, world.guardian) | {"order": 0} == me(state, world.guardian)
        assert me(state, world.guardian)["status"] == "waiting"
        assert me(state, world.guardian)["caseId"] == str(world.case_id)
        # the therapist sees who waits
        seen = next_of(t, "room_state")
        assert statuses(seen)[str(world.guardian.device_id)] == "waiting"
        # a waiting device cannot signal yet, nor admit
        offer = {
            "type": "signal",
            "roomId": room,
            "to": str(world.therapist.device_id),
            "kind": "offer",
            "payload": {"sdp": "v=0"},
        }
        assert refused(g, offer) == "room_not_admitted"
        admit_self = {"type": "room_admit", "roomId": room}
        assert refused(g, admit_self) == "room_not_host"

        t.send_json(
            {"type": "room_admit", "roomId": room, "deviceIds": [str(world.guardian.device_id)]}
        )
        for ws in (t, g):
            state = next_of(ws, "room_state")
            assert statuses(state)[str(world.guardian.device_id)] == "admitted"
        assert me(state, world.guardian)["order"] == 2  # the later joiner: it offers

        for n in range(1, 4):
            g.send_json({**offer, "payload": {"sdp": f"v=0 #{n}", "n": n}})
        for n in range(1, 4):
            got = next_of(t, "signal")
            assert got["from"] == str(world.guardian.device_id)
            assert got["fromUser"] == str(world.guardian.user_id)
            assert got["roomId"] == room
            assert got["kind"] == "offer"
            assert (got["seq"], got["epoch"]) == (n, 1)
            assert got["payload"] == {"sdp": f"v=0 #{n}", "n": n}
        t.send_json(
            {
                "type": "signal",
                "roomId": room,
                "to": str(world.guardian.device_id),
                "kind": "answer",
                "payload": {"sdp": "answer"},
            }
        )
        got = next_of(g, "signal")
        assert (got["kind"], got["seq"], got["payload"]) == ("answer", 1, {"sdp": "answer"})

        # leaving tells the others
        g.send_json({"type": "room_leave", "roomId": room})
        left = next_of(t, "room_state")
        assert str(world.guardian.device_id) not in statuses(left)
        assert next_of(g, "room_state") == left  # the leaver sees it is out
        assert refused(g, offer) == "room_not_joined"
    finally:
        close(t)
        close(g)


def test_auto_admit_and_admit_all(client: TestClient[Any], world: World) -> None:
    room = video(client, world.therapist, [world.case_id])
    t, g1, g2 = (socket(client, s) for s in (world.therapist, world.guardian, world.guardian2))
    try:
        join(t, room)
        assert me(join(g1, room), world.guardian)["status"] == "waiting"
        assert me(join(g2, room), world.guardian2)["status"] == "waiting"
        t.send_json({"type": "room_admit", "roomId": room})  # everyone waiting
        deadline = time.monotonic() + 5
        while True:
            state = next_of(t, "room_state")
            if set(statuses(state).values()) == {"admitted"}:
                break
            assert time.monotonic() < deadline
        # the first waiting is admitted first: the order follows the waiting line
        assert me(state, world.guardian)["order"] < me(state, world.guardian2)["order"]
        g2.send_json({"type": "room_leave", "roomId": room})
        next_of(t, "room_state")
        t.send_json({"type": "room_admit", "roomId": room, "autoAdmit": True})
        assert next_of(t, "room_state")["autoAdmit"] is True
        state = join(g2, room)
        assert me(state, world.guardian2)["status"] == "admitted"
    finally:
        for ws in (t, g1, g2):
            close(ws)


def test_entry_refused_with_clear_codes(
    client: TestClient[Any], world: World, other_world: World
) -> None:
    room = video(client, world.therapist, [world.case_id])
    early = video(client, world.therapist, [world.case_id], starts_in=timedelta(minutes=30))
    late = video(client, world.therapist, [world.case_id], starts_in=timedelta(minutes=-120))
    r = client.post(
        "/appointments",
        json={
            "caseIds": [str(world.case_id)],
            "startsAt": "2099-01-01T10:00:00+02:00",
            "placeKind": "home",
        },
        headers=world.therapist.headers,
    )
    home = r.json()["appointments"][0]["id"]
    cancelled = video(client, world.therapist, [world.case_id], starts_in=timedelta(minutes=10))
    r = client.post(
        f"/appointments/{cancelled}/cancel",
        json={"reason": "illness"},
        headers=world.therapist.headers,
    )
    assert r.status_code in (200, 201), r.text
    r = client.post(
        f"/cases/{world.case_id}/invites",
        json={"role": "caregiver", "scopes": ["schedule"]},
        headers=world.guardian.headers,
    )
    caregiver = accept_invite(client, r.json()["code"], "daycare@example.fi", "Päiväkoti")
    g = socket(client, world.guardian)
    stranger = socket(client, other_world.therapist)
    admin = socket(client, world.admin)
    cg = socket(client, caregiver)
    try:
        assert join(g, early)["code"] == "room_not_open_yet"
        assert join(g, late)["code"] == "room_closed"
        assert join(g, home)["code"] == "room_not_video"
        assert join(g, cancelled)["code"] == "room_cancelled"
        assert join(g, "00000000-0000-0000-0000-000000000000")["code"] == "room_not_found"
        assert join(stranger, room)["code"] == "room_not_found"  # foreign organisation
        assert join(admin, room)["code"] == "room_not_found"  # not a member
        assert join(cg, room)["code"] == "room_not_allowed"  # caregivers do not enter
        # bad input
        assert refused(g, {"type": "room_join", "roomId": "nope"}) == "invalid_frame"
        assert refused(g, {"type": "room_join"}) == "invalid_frame"
        assert refused(g, {"type": "room_join", "roomId": room, "x": 1}) == "invalid_frame"
        bad_kind = {
            "type": "signal",
            "roomId": room,
            "to": str(world.therapist.device_id),
            "kind": "steal",
            "payload": {},
        }
        assert refused(g, bad_kind) == "invalid_frame"
        assert refused(g, {**bad_kind, "kind": "offer"}) == "room_not_joined"
        assert refused(g, {"type": "room_leave", "roomId": room}) == "room_not_joined"
        assert refused(g, {"type": "room_admit", "roomId": room}) == "room_not_joined"
    finally:
        for ws in (g, stranger, admin, cg):
            close(ws)


def test_relay_only_between_admitted_peers_of_the_room(
    client: TestClient[Any], world: World
) -> None:
    room = video(client, world.therapist, [world.case_id])
    other = video(client, world.therapist, [world.case_id], starts_in=timedelta(minutes=1))
    t, g1, g2 = (socket(client, s) for s in (world.therapist, world.guardian, world.guardian2))
    try:
        join(t, room)
        join(g1, room)
        join(g2, other)  # the same family, another room
        t.send_json({"type": "room_admit", "roomId": room})
        next_of(g1, "room_state")
        signal = {"type": "signal", "roomId": room, "kind": "offer", "payload": {"sdp": "x"}}
        # to a device in another room, to a waiting one, to oneself
        assert refused(t, {**signal, "to": str(world.guardian2.device_id)}) == "peer_not_in_room"
        assert refused(t, {**signal, "to": str(world.therapist.device_id)}) == "peer_not_in_room"
        # too large: the payload bound (the frame bound is larger)
        big = {**signal, "to": str(world.guardian.device_id), "payload": {"sdp": "a" * 45_000}}
        assert refused(t, big) == "signal_too_large"
        # (a frame over KAARI_WS_MAX_FRAME_BYTES closes the socket: tests/app/test_app_quotas.py)
        # a waiting device gets nothing
        g2.send_json({"type": "room_join", "roomId": room})
        waiting = next_of(g2, "room_state")
        assert me(waiting, world.guardian2)["status"] == "waiting"
        assert refused(t, {**signal, "to": str(world.guardian2.device_id)}) == "peer_not_in_room"
    finally:
        for ws in (t, g1, g2):
            close(ws)


def test_one_seat_per_user_and_participant_limit(client: TestClient[Any], world: World) -> None:
    room = video(client, world.therapist, [world.case_id])
    rooms = rooms_of(client)
    rooms.settings = msgspec.structs.replace(rooms.settings, room_max_participants=2)
    tablet = login(client, str(world.guardian.email), device="tablet")
    t, g1, g1b, g2 = (
        socket(client, s) for s in (world.therapist, world.guardian, tablet, world.guardian2)
    )
    try:
        join(t, room)
        join(g1, room)
        assert join(g1b, room)["code"] == "room_already_joined"
        assert join(g2, room)["code"] == "room_full"
    finally:
        for ws in (t, g1, g1b, g2):
            close(ws)


def test_a_group_of_four_children_is_seated_and_seats_are_kept_for_every_family(
    client: TestClient[Any], world: World
) -> None:
    """A group of four children with one therapist (the appointment rules allow 2-4): the
    room seats all four. With six seats, a family already in takes no seat that a family
    not here yet needs (``room_seats_kept``); beyond the seats, ``room_full``."""
    cases = [world.case_id] + [
        new_case(client, world.therapist, name) for name in ("Aino", "Veeti", "Iida")
    ]
    guardians = [world.guardian] + [
        guardian_of(client, world.therapist, c, f"g{n}@example.fi") for n, c in enumerate(cases[1:])
    ]
    children = [pair_child(client, g, c) for g, c in zip(guardians, cases, strict=True)]
    room = video(client, world.therapist, cases, groupKind="children")
    rooms = rooms_of(client)
    rooms.settings = msgspec.structs.replace(rooms.settings, room_max_participants=6)
    t = socket(client, world.therapist)
    kids = [socket(client, c) for c in children]
    parents = [socket(client, g) for g in guardians]
    try:
        assert join(t, room)["type"] == "room_state"
        for n, ws in enumerate(kids[:3]):
            state = join(ws, room)
            assert state["type"] == "room_state", state
            assert me(state, children[n])["role"] == "child"
        # 4 of 6 seats taken, the fourth family not here: one more for a family in
        assert join(parents[0], room)["type"] == "room_state"
        answer = join(parents[1], room)
        assert answer["type"] == "error", answer
        assert answer["code"] == "room_seats_kept"
        assert "kept for those not here yet" in answer["detail"]
        # the fourth child is seated: four children in the room
        state = join(kids[3], room)
        assert state["type"] == "room_state", state
        assert sum(p["role"] == "child" for p in state["participants"]) == 4
        # a fifth family member beyond the room's seats
        answer = join(parents[2], room)
        assert answer["type"] == "error", answer
        assert answer["code"] == "room_full"
    finally:
        for ws in (t, *kids, *parents):
            close(ws)


def test_a_dropped_socket_keeps_its_place_for_the_grace_period(
    client: TestClient[Any], world: World
) -> None:
    room = video(client, world.therapist, [world.case_id])
    rooms = rooms_of(client)
    rooms.grace = 1.0
    t, g = socket(client, world.therapist), socket(client, world.guardian)
    try:
        join(t, room)
        join(g, room)
        t.send_json({"type": "room_admit", "roomId": room})
        next_of(g, "room_state")
        close(g)  # e.g. a switch from Wi-Fi to mobile data
        state = state_until(t, lambda s: not me(s, world.guardian)["connected"])
        assert me(state, world.guardian)["status"] == "admitted"
        g = socket(client, world.guardian)
        state = join(g, room)
        assert me(state, world.guardian)["status"] == "admitted"  # no waiting again
        assert me(state, world.guardian)["connected"] is True
        g.send_json(
            {
                "type": "signal",
                "roomId": room,
                "to": str(world.therapist.device_id),
                "kind": "restart",
                "payload": {},
            }
        )
        got = next_of(t, "signal")
        assert (got["kind"], got["epoch"], got["seq"]) == ("restart", 2, 1)
        # gone for longer than the grace period: the seat is freed and the others told
        close(g)
        state_until(t, lambda s: str(world.guardian.device_id) not in statuses(s))
        g = socket(client, world.guardian)
        assert me(join(g, room), world.guardian)["status"] == "waiting"
    finally:
        close(t)
        close(g)
