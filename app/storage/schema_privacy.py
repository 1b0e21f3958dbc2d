"""The tables of data protection (docs/data-protection.md), on the one ``metadata``.

Split from ``schema.py`` only for length; ``schema.py`` imports this module, so every table
is declared whenever the schema is.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.storage.schema import metadata
from app.storage.types import UTCDateTime

# audit (app/audit): which cases an audit event concerns, for the family's access log
# (a group session's event concerns every case of the session). No content, ids only.
audit_event_cases = sa.Table(
    "audit_event_cases",
    metadata,
    sa.Column("event_id", sa.Integer, sa.ForeignKey("audit_events.id"), primary_key=True),
    sa.Column("case_id", sa.Uuid, primary_key=True),
    sa.Index("ix_audit_event_cases_case", "case_id", "event_id"),
)

# accounts (app/accounts): password reset links; only the SHA-256 of the token is stored,
# a row is single-use (used_at) and expires (KAARI_PASSWORD_RESET_TTL_MINUTES)
password_resets = sa.Table(
    "password_resets",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("token_hash", sa.LargeBinary(32), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
    sa.Column("used_at", UTCDateTime, nullable=True),
)
