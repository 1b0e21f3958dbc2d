"""The data export of GDPR articles 15 and 20 (docs/data-protection.md, *Export*): the
words the domains share for it.

Each domain that stores something about a person contributes one section, read by a
function of its own ``privacy_store`` in the export's one read transaction. The privacy
domain (app/privacy) puts the sections together; it imports no domain: the composition
root (app/services.py) hands it the :class:`ExportSource` list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection


@dataclass(frozen=True)
class ExportSubject:
    """Whose data: the user, their devices (revoked ones too) and, for a family member, the
    cases they are in (empty for staff: app/privacy/service.py ``FAMILY_ROLES``)."""

    user_id: UUID
    role: str
    device_ids: frozenset[UUID]
    case_ids: frozenset[UUID]


Section = dict[str, Any]
ReadSection = Callable[[AsyncConnection, ExportSubject], Awaitable[Section]]


@dataclass(frozen=True)
class ExportSource:
    """One section of the export: its name and the function that reads it."""

    name: str
    read: ReadSection
