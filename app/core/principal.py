"""Who is calling: the signed-in user and device, as the auth middleware found them,
and the roles every domain speaks of."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

Role = Literal["admin", "therapist", "guardian", "child", "caregiver"]
CaseRole = Literal["therapist", "guardian", "caregiver", "child"]
Locale = Literal["fi", "sv", "en"]


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: UUID
    org_id: UUID
    role: Role
    device_id: UUID


@dataclass(frozen=True, slots=True)
class UserFacts:
    """A user as other domains see them (accounts answers; see ``cases.UserDirectory``)."""

    user_id: UUID
    org_id: UUID
    role: Role
    active: bool
    """not disabled"""
