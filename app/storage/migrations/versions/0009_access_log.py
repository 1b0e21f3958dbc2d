"""access log: the cases an audit event concerns

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-10 09:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_event_cases",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["audit_events.id"],
            name=op.f("fk_audit_event_cases_event_id_audit_events"),
        ),
        sa.PrimaryKeyConstraint("event_id", "case_id", name=op.f("pk_audit_event_cases")),
    )
    with op.batch_alter_table("audit_event_cases", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_cases_case", ["case_id", "event_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_event_cases", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_cases_case")
    op.drop_table("audit_event_cases")
