"""homework content as room events: a third room kind per case, tasks and ticks point at
events of the case's homework room instead of holding ciphertexts

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 13:45:00.000000

Nothing is deployed: the old ciphertext columns are dropped, not converted.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("threads", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_threads_kind"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_threads_kind"), "kind IN ('family','child','homework')"
        )
    with op.batch_alter_table("homework_tasks", schema=None) as batch_op:
        batch_op.drop_column("content")
        batch_op.add_column(sa.Column("content_event_id", sa.String(length=255), nullable=False))
    with op.batch_alter_table("homework_ticks", schema=None) as batch_op:
        batch_op.drop_column("note")
        batch_op.add_column(sa.Column("note_event_id", sa.String(length=255), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("homework_ticks", schema=None) as batch_op:
        batch_op.drop_column("note_event_id")
        batch_op.add_column(sa.Column("note", sa.Text(), nullable=True))
    with op.batch_alter_table("homework_tasks", schema=None) as batch_op:
        batch_op.drop_column("content_event_id")
        batch_op.add_column(sa.Column("content", sa.Text(), nullable=False))
    with op.batch_alter_table("threads", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_threads_kind"), type_="check")
        batch_op.create_check_constraint(op.f("ck_threads_kind"), "kind IN ('family','child')")
