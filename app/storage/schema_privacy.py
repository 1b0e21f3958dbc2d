"""The tables of data protection (docs/data-protection.md), on the one ``metadata``.

Split from ``schema.py`` only for length; ``schema.py`` imports this module, so every table
is declared whenever the schema is.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.storage.schema import metadata

# audit (app/audit): which cases an audit event concerns, for the family's access log
# (a group session's event concerns every case of the session). No content, ids only.
audit_event_cases = sa.Table(
    "audit_event_cases",
    metadata,
    sa.Column("event_id", sa.Integer, sa.ForeignKey("audit_events.id"), primary_key=True),
    sa.Column("case_id", sa.Uuid, primary_key=True),
    sa.Index("ix_audit_event_cases_case", "case_id", "event_id"),
)
