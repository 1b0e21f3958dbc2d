"""appointment details and cancellation notes as room events: each case's attendance of an
appointment points at events of the case's family room instead of holding ciphertexts

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 17:30:00.000000

Nothing is deployed: the old ciphertext columns are dropped, not converted.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("appointment_cases", schema=None) as batch_op:
        batch_op.drop_column("details")
        batch_op.add_column(sa.Column("details_event_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("note_event_id", sa.String(length=255), nullable=True))
    with op.batch_alter_table("cancellations", schema=None) as batch_op:
        batch_op.drop_column("note")


def downgrade() -> None:
    with op.batch_alter_table("cancellations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))
    with op.batch_alter_table("appointment_cases", schema=None) as batch_op:
        batch_op.drop_column("note_event_id")
        batch_op.drop_column("details_event_id")
        batch_op.add_column(sa.Column("details", sa.Text(), nullable=True))
