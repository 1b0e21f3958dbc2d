"""therapy documents in a room of their own: a fourth room kind per case, ``documents``
(therapists, guardians and the caregivers a guardian granted ``documents``)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 14:10:00.000000

Nothing is deployed: document versions shared before this (their events and files in
the family room) are not moved; their room id is now the documents room's.
"""

from __future__ import annotations

from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("threads", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_threads_kind"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_threads_kind"), "kind IN ('family','child','homework','documents')"
        )


def downgrade() -> None:
    with op.batch_alter_table("threads", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_threads_kind"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_threads_kind"), "kind IN ('family','child','homework')"
        )
