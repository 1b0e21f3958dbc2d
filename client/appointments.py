"""Appointment details and cancellation notes on one device, as Matrix room events.

The server keeps an appointment's times, place kind, statuses and codes; the details of a
case's session (address, what to bring) and a cancellation's note are Megolm-encrypted
events of the case's family room (its guardians and therapists), and the server's records
point at them by event id (docs/protocol.md, "Case content"). Two Kaari event types,
``m.room.encrypted`` on the wire, the type below inside:

* ``org.kaari.appointment.details``: ``{case_id, details}``, sent by a therapist's device
  before ``POST /appointments`` (one per case of a group session, each in its own
  family's room);
* ``org.kaari.cancellation.note``: ``{appointment_id, case_id, note}``, sent by the
  cancelling device before ``POST /appointments/{id}/cancel``.

A reader checks that the decrypted content names the case (a note: also the appointment)
it is served under and comes from the right person (details: a therapist of the
appointment; a note: the canceller), so a server that moves event ids between records
cannot show one family's details under another's session. It cannot tell two sessions of
the same case with the same therapist apart (the details name no appointment: the ids
are the server's, made after the event is sent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from client.api import Api
from client.homework_content import InvalidContent, user_of
from client.matrix import MatrixClient
from client.matrix.http import MatrixError

__all__ = ["Appointments", "InvalidContent", "Read"]

DETAILS_EVENT = "org.kaari.appointment.details"
NOTE_EVENT = "org.kaari.cancellation.note"

Id = Annotated[str, Meta(min_length=1, max_length=64)]


class DetailsContent(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    case_id: Id
    details: Annotated[str, Meta(min_length=1, max_length=4_000)]


class NoteContent(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    appointment_id: Id
    case_id: Id
    note: Annotated[str, Meta(min_length=1, max_length=2_000)]


class Read(msgspec.Struct, frozen=True, kw_only=True):
    """Decrypted text of a details or note event; ``readable`` false with a ``problem``
    (``missing``, ``no_key``, ``malformed``, ``other_record``) when it cannot be shown."""

    readable: bool
    text: str = ""
    sender_user_id: str = ""
    problem: str = ""


def _wire(content: DetailsContent | NoteContent) -> dict[str, Any]:
    out: dict[str, Any] = msgspec.to_builtins(content)
    try:
        msgspec.convert(out, type(content))
    except msgspec.ValidationError as exc:
        raise InvalidContent(f"invalid {type(content).__name__}: {exc}") from exc
    return out


class Appointments:
    """Appointments for the person signed in on ``matrix``'s device (``api``: the same
    device)."""

    def __init__(self, matrix: MatrixClient, api: Api) -> None:
        self.matrix = matrix
        self.api = api
        self._rooms: dict[str, str] = {}

    def room(self, case_id: str) -> str:
        """The case's family room, where its details and notes are."""
        if case_id not in self._rooms:
            body = self.api.get(f"/cases/{case_id}/appointments/room")
            self._rooms[case_id] = str(body["roomId"])
        return self._rooms[case_id]

    # -- writing ---------------------------------------------------------------
    def schedule(
        self,
        case_ids: Sequence[str],
        starts_at: str,
        place_kind: str,
        *,
        details: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Schedule a session (a therapist's device): a details event per case given in
        ``details`` (case id -> text) first, then the appointment pointing at them. The
        server's answer (``appointments``, ``warnings``)."""
        contents = [DetailsContent(case_id=c, details=t) for c, t in (details or {}).items()]
        wires = [_wire(c) for c in contents]  # refused before anything is sent
        refs = [
            {"caseId": c.case_id, "eventId": self._send(c.case_id, DETAILS_EVENT, w)}
            for c, w in zip(contents, wires, strict=True)
        ]
        body = {
            "caseIds": list(case_ids),
            "startsAt": starts_at,
            "placeKind": place_kind,
            "details": refs,
            **extra,
        }
        result: dict[str, Any] = self.api.post("/appointments", body)
        return result

    def cancel(
        self, appointment_id: str, reason: str, notes: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        """Cancel (a guardian's or a therapist's device): a note event per case given in
        ``notes`` (case id -> text) first, then the cancellation. The server's answer."""
        contents = [
            NoteContent(appointment_id=appointment_id, case_id=c, note=t)
            for c, t in (notes or {}).items()
        ]
        wires = [_wire(c) for c in contents]
        refs = [
            {"caseId": c.case_id, "eventId": self._send(c.case_id, NOTE_EVENT, w)}
            for c, w in zip(contents, wires, strict=True)
        ]
        body = {"reason": reason, "note": refs}
        result: dict[str, Any] = self.api.post(f"/appointments/{appointment_id}/cancel", body)
        return result

    def _send(self, case_id: str, event_type: str, content: dict[str, Any]) -> str:
        return self.matrix.send_message(self.room(case_id), content, event_type)

    # -- reading ---------------------------------------------------------------
    def details(self, appointment: Mapping[str, Any], case_id: str) -> Read:
        """The details of the case's attendance of an appointment as the server serves it
        (``GET /appointments/{id}``); from a therapist of the appointment."""
        (attendance,) = [a for a in appointment["cases"] if a["caseId"] == case_id]
        event_id = attendance.get("detailsEventId")
        if event_id is None:
            return Read(readable=False, problem="none")
        message, problem = self._read(attendance["roomId"], event_id)
        if message is None:
            return Read(readable=False, problem=problem)
        if message.get("type") != DETAILS_EVENT:
            return Read(readable=False, problem="other_record")
        sender = user_of(str(message.get("sender", "")))
        try:
            content = msgspec.convert(message.get("content"), DetailsContent)
        except msgspec.ValidationError:
            return Read(readable=False, problem="malformed")
        therapists = [str(t) for t in appointment.get("therapistIds", [])]
        if content.case_id != case_id or sender not in therapists:
            return Read(readable=False, problem="other_record")
        return Read(readable=True, text=content.details, sender_user_id=sender)

    def note(self, cancellation: Mapping[str, Any], case_id: str) -> Read:
        """The note of a cancellation (``GET /cancellations/{id}``) for one of its cases;
        from the person who cancelled."""
        refs = [n for n in cancellation.get("note", []) if n["caseId"] == case_id]
        if not refs:
            return Read(readable=False, problem="none")
        message, problem = self._read(refs[0]["roomId"], refs[0]["eventId"])
        if message is None:
            return Read(readable=False, problem=problem)
        if message.get("type") != NOTE_EVENT:
            return Read(readable=False, problem="other_record")
        sender = user_of(str(message.get("sender", "")))
        try:
            content = msgspec.convert(message.get("content"), NoteContent)
        except msgspec.ValidationError:
            return Read(readable=False, problem="malformed")
        names = (content.appointment_id, content.case_id)
        if names != (cancellation["appointmentId"], case_id) or (
            sender != str(cancellation["cancelledBy"])
        ):
            return Read(readable=False, problem="other_record")
        return Read(readable=True, text=content.note, sender_user_id=sender)

    def _read(self, room_id: str, event_id: str) -> tuple[dict[str, Any] | None, str]:
        """The decrypted message of an event; one sync for a key not here yet."""
        for attempt in range(2):
            try:
                message = self.matrix.room_event(room_id, event_id)
            except MatrixError as exc:
                if exc.status == 404:
                    return None, "missing"
                raise
            if message is not None:
                return message, ""
            if attempt == 0:
                self.matrix.sync()
        return None, "no_key"
