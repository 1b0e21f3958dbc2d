"""Frames on the WebSocket (JSON, camelCase, tagged by ``type``) and the ticket reply.

docs/realtime.md documents every frame type and close code.
"""

from __future__ import annotations

from uuid import UUID

import msgspec

# Close codes (docs/realtime.md)
CLOSE_GOING_AWAY = 1001
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL = 1011
CLOSE_RESYNC = 4008
CLOSE_RATE_LIMITED = 4029
CLOSE_TICKET_INVALID = 4401
CLOSE_REVOKED = 4403
CLOSE_IDLE = 4408


class TicketOut(msgspec.Struct, rename="camel", kw_only=True):
    ticket: str
    expires_in: int


class InFrame(msgspec.Struct, tag_field="type", rename="camel", forbid_unknown_fields=True):
    """A frame from a device. Other domains subclass it with their own ``tag``
    and register a handler with ``Gateway.on``."""


class OutFrame(msgspec.Struct, tag_field="type", rename="camel", kw_only=True):
    """A frame to a device."""


# inbound, handled by the gateway itself


class PingIn(InFrame, tag="ping"):
    pass


class PongIn(InFrame, tag="pong"):
    pass


# outbound


class Hello(OutFrame, tag="hello"):
    device_id: UUID
    heartbeat_seconds: float
    idle_timeout_seconds: float


class PingOut(OutFrame, tag="ping"):
    pass


class PongOut(OutFrame, tag="pong"):
    pass


class WakeOut(OutFrame, tag="wake"):
    """New mailbox rows up to ``up_to_seq``; None means "something may have been missed"."""

    up_to_seq: int | None


class EventOut(OutFrame, tag="event"):
    event: str
    ids: dict[str, str]


class ErrorOut(OutFrame, tag="error"):
    code: str
    detail: str
