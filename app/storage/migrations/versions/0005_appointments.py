"""appointments: sessions, their cases and therapists, cancellations and their acks

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 12:35:31.879366
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.storage.types

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "appointments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("series_id", sa.Uuid(), nullable=True),
        sa.Column("starts_at", app.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("place_kind", sa.String(length=16), nullable=False),
        sa.Column("group_kind", sa.String(length=16), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=False),
        sa.Column("created_at", app.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", app.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "group_kind IN ('children','adults')", name=op.f("ck_appointments_group_kind")
        ),
        sa.CheckConstraint(
            "place_kind IN ('home','school','daycare','office','video','other')",
            name=op.f("ck_appointments_place_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('scheduled','cancelled','completed','no_show')",
            name=op.f("ck_appointments_status"),
        ),
        sa.CheckConstraint(
            "duration_minutes BETWEEN 45 AND 60", name=op.f("ck_appointments_duration")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_appointments_created_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisations.id"], name=op.f("fk_appointments_org_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
    )
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_appointments_org_id"), ["org_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_appointments_series_id"), ["series_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_appointments_starts_at"), ["starts_at"], unique=False)

    op.create_table(
        "appointment_therapists",
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_appointment_therapists_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_appointment_therapists_user_id_users")
        ),
        sa.PrimaryKeyConstraint(
            "appointment_id", "user_id", name=op.f("pk_appointment_therapists")
        ),
    )
    with op.batch_alter_table("appointment_therapists", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_appointment_therapists_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "cancellations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("cancelled_by", sa.Uuid(), nullable=False),
        sa.Column("cancelled_by_device", sa.Uuid(), nullable=False),
        sa.Column("cancelled_by_role", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("created_at", app.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "reason IN ('illness','family','therapist_unavailable','other')",
            name=op.f("ck_cancellations_reason"),
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_cancellations_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["cancelled_by"], ["users.id"], name=op.f("fk_cancellations_cancelled_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cancellations")),
    )
    with op.batch_alter_table("cancellations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cancellations_appointment_id"), ["appointment_id"], unique=False
        )

    op.create_table(
        "appointment_cases",
        sa.Column("appointment_id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cancellation_id", sa.Uuid(), nullable=True),
        sa.Column("details", sa.Text(), nullable=True),
        sa.Column("status_changed_at", app.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("status_changed_by", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "status IN ('scheduled','cancelled','completed','no_show')",
            name=op.f("ck_appointment_cases_status"),
        ),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_appointment_cases_appointment_id_appointments"),
        ),
        sa.ForeignKeyConstraint(
            ["cancellation_id"],
            ["cancellations.id"],
            name=op.f("fk_appointment_cases_cancellation_id_cancellations"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_appointment_cases_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["status_changed_by"],
            ["users.id"],
            name=op.f("fk_appointment_cases_status_changed_by_users"),
        ),
        sa.PrimaryKeyConstraint("appointment_id", "case_id", name=op.f("pk_appointment_cases")),
    )
    with op.batch_alter_table("appointment_cases", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_appointment_cases_case_id"), ["case_id"], unique=False)

    op.create_table(
        "cancellation_acks",
        sa.Column("cancellation_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("seen_at", app.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["cancellation_id"],
            ["cancellations.id"],
            name=op.f("fk_cancellation_acks_cancellation_id_cancellations"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_cancellation_acks_user_id_users")
        ),
        sa.PrimaryKeyConstraint("cancellation_id", "device_id", name=op.f("pk_cancellation_acks")),
    )


def downgrade() -> None:
    op.drop_table("cancellation_acks")
    with op.batch_alter_table("appointment_cases", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointment_cases_case_id"))

    op.drop_table("appointment_cases")
    with op.batch_alter_table("cancellations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cancellations_appointment_id"))

    op.drop_table("cancellations")
    with op.batch_alter_table("appointment_therapists", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointment_therapists_user_id"))

    op.drop_table("appointment_therapists")
    with op.batch_alter_table("appointments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appointments_starts_at"))
        batch_op.drop_index(batch_op.f("ix_appointments_series_id"))
        batch_op.drop_index(batch_op.f("ix_appointments_org_id"))

    op.drop_table("appointments")
