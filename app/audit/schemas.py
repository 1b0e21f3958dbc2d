"""Audit events on the wire."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec


class AuditEvent(msgspec.Struct, rename="camel", kw_only=True):
    id: int
    at: datetime
    action: str
    actor_user_id: UUID | None
    actor_device_id: UUID | None
    target_type: str | None
    target_id: str | None
    details: dict[str, Any] | None


class AuditPage(msgspec.Struct, rename="camel", kw_only=True):
    events: list[AuditEvent]
    next_before: int | None
