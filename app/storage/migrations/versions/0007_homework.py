"""homework: tasks, ticks, daily reminders

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23 15:17:57.594457
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.storage.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "homework_reminders",
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("minute", sa.Integer(), nullable=False),
        sa.Column("set_by", sa.Uuid(), nullable=False),
        sa.Column("updated_at", app.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("minute BETWEEN 0 AND 1439", name=op.f("ck_homework_reminders_minute")),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_homework_reminders_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["set_by"], ["users.id"], name=op.f("fk_homework_reminders_set_by_users")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_homework_reminders")),
    )
    op.create_table(
        "homework_tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_version", sa.Integer(), nullable=False),
        sa.Column("plan", sa.Text(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("tick_by", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", app.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('active','paused','finished')", name=op.f("ck_homework_tasks_status")
        ),
        sa.CheckConstraint(
            "tick_by IN ('child','guardian','both')", name=op.f("ck_homework_tasks_tick_by")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_homework_tasks_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_homework_tasks_created_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_homework_tasks")),
    )
    with op.batch_alter_table("homework_tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_homework_tasks_case_id"), ["case_id"], unique=False)

    op.create_table(
        "homework_ticks",
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("client_time", app.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("received_at", app.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("notified_at", app.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_homework_ticks_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["homework_tasks.id"],
            name=op.f("fk_homework_ticks_task_id_homework_tasks"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_homework_ticks_user_id_users")
        ),
        sa.PrimaryKeyConstraint("task_id", "day", name=op.f("pk_homework_ticks")),
    )
    with op.batch_alter_table("homework_ticks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_homework_ticks_case_id"), ["case_id"], unique=False)
        batch_op.create_index(
            "ix_homework_ticks_unnotified", ["notified_at", "received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("homework_ticks", schema=None) as batch_op:
        batch_op.drop_index("ix_homework_ticks_unnotified")
        batch_op.drop_index(batch_op.f("ix_homework_ticks_case_id"))

    op.drop_table("homework_ticks")
    with op.batch_alter_table("homework_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_homework_tasks_case_id"))

    op.drop_table("homework_tasks")
    op.drop_table("homework_reminders")
