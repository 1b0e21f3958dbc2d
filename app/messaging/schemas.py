"""Messaging on the wire outside the Matrix paths: the thread directory and attachments.

The server sees routing facts only (which thread of which case; an attachment's size and
hash); messages themselves are Matrix room events (``app/messaging/matrix_routes.py``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from app.core.wire import Camel

ThreadKind = Literal["family", "child"]


class ThreadOut(Camel):
    id: UUID
    case_id: UUID
    kind: ThreadKind
    child_name: str | None


class AttachmentOut(Camel):
    id: UUID
    thread_id: UUID
    size: int
    sha256: str
    expires_at: datetime
