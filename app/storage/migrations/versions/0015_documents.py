"""therapy documents: versions (an E2E attachment and a family-room event each), opened-by
receipts, and the family's requests

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 17:30:00.000000

The caregivers' ``documents`` grant needs no column: scopes are a JSON list.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.storage.types import UTCDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

KINDS = "kind IN ('rehabilitation_plan','therapy_plan','therapy_statement','other')"


def upgrade() -> None:
    op.create_table(
        "documents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("document_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("period_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("content_event_id", sa.String(length=255), nullable=False),
        sa.Column("blob_id", sa.Uuid(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("shared_by", sa.Uuid(), nullable=True),
        sa.Column("shared_by_device", sa.Uuid(), nullable=True),
        sa.Column("shared_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("superseded_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("given_to_doctor_at", UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(KINDS, name=op.f("ck_documents_kind")),
        sa.CheckConstraint("version >= 1", name=op.f("ck_documents_version")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name=op.f("fk_documents_case_id_cases")),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["therapy_periods.id"],
            name=op.f("fk_documents_period_id_therapy_periods"),
        ),
        sa.ForeignKeyConstraint(
            ["shared_by"], ["users.id"], name=op.f("fk_documents_shared_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_documents")),
        sa.UniqueConstraint("document_id", "version", name="uq_documents_version"),
    )
    op.create_index(op.f("ix_documents_case_id"), "documents", ["case_id"], unique=False)
    op.create_index(op.f("ix_documents_document_id"), "documents", ["document_id"], unique=False)
    op.create_table(
        "document_receipts",
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("opened_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["documents.id"],
            name=op.f("fk_document_receipts_version_id_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_document_receipts_user_id_users")
        ),
        sa.PrimaryKeyConstraint("version_id", "user_id", name=op.f("pk_document_receipts")),
    )
    op.create_table(
        "document_requests",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("case_id", sa.Uuid(), nullable=False),
        sa.Column("period_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("needed_by", sa.Date(), nullable=False),
        sa.Column("note_event_id", sa.String(length=255), nullable=True),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("requested_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("fulfilled_by", sa.Uuid(), nullable=True),
        sa.Column("closed_at", UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(KINDS, name=op.f("ck_document_requests_kind")),
        sa.CheckConstraint(
            "status IN ('open','fulfilled','withdrawn')", name=op.f("ck_document_requests_status")
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["cases.id"], name=op.f("fk_document_requests_case_id_cases")
        ),
        sa.ForeignKeyConstraint(
            ["period_id"],
            ["therapy_periods.id"],
            name=op.f("fk_document_requests_period_id_therapy_periods"),
        ),
        sa.ForeignKeyConstraint(
            ["requested_by"], ["users.id"], name=op.f("fk_document_requests_requested_by_users")
        ),
        sa.ForeignKeyConstraint(
            ["fulfilled_by"],
            ["documents.id"],
            name=op.f("fk_document_requests_fulfilled_by_documents"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_requests")),
    )
    op.create_index(
        op.f("ix_document_requests_case_id"), "document_requests", ["case_id"], unique=False
    )
    op.create_index(
        "ix_document_requests_open", "document_requests", ["status", "needed_by"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_document_requests_open", table_name="document_requests")
    op.drop_index(op.f("ix_document_requests_case_id"), table_name="document_requests")
    op.drop_table("document_requests")
    op.drop_table("document_receipts")
    op.drop_index(op.f("ix_documents_document_id"), table_name="documents")
    op.drop_index(op.f("ix_documents_case_id"), table_name="documents")
    op.drop_table("documents")
