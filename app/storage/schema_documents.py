"""The tables of therapy documents (app/documents, docs/documents.md), on the one ``metadata``.

Split from ``schema.py`` only for length; ``schema.py`` imports this module, so every table
is declared whenever the schema is. The server holds kinds, sizes, times and ids: the
title, the file name and the key of the file are in an end-to-end encrypted event of the
case's family room (``content_event_id``), the file's ciphertext in the blob store
(``blob_id``, an attachment of that room).
"""

from __future__ import annotations

import sqlalchemy as sa

from app.storage.schema import metadata
from app.storage.types import UTCDateTime

DOCUMENT_KINDS = "kind IN ('rehabilitation_plan','therapy_plan','therapy_statement','other')"

# one version of a document: ``document_id`` names the document across its versions (the
# first version's id); a later version supersedes the earlier, which stays readable
documents = sa.Table(
    "documents",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("document_id", sa.Uuid, nullable=False, index=True),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("case_id", sa.Uuid, sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("period_id", sa.Uuid, sa.ForeignKey("therapy_periods.id"), nullable=True),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("content_event_id", sa.String(255), nullable=False),
    sa.Column("blob_id", sa.Uuid, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("shared_by", sa.Uuid, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("shared_by_device", sa.Uuid, nullable=True),
    sa.Column("shared_at", UTCDateTime, nullable=False),
    sa.Column("superseded_at", UTCDateTime, nullable=True),
    # the therapist also gave it to the child's doctor (a plain flag: no address)
    sa.Column("given_to_doctor_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("document_id", "version", name="uq_documents_version"),
    sa.CheckConstraint(DOCUMENT_KINDS, name="kind"),
    sa.CheckConstraint("version >= 1", name="version"),
)

# who opened which version, first time only (the cancellation "seen" of documents)
document_receipts = sa.Table(
    "document_receipts",
    metadata,
    sa.Column("version_id", sa.Uuid, sa.ForeignKey("documents.id"), primary_key=True),
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("opened_at", UTCDateTime, nullable=False),
)

# a guardian asks for a document by a day; sharing one of that kind closes it
document_requests = sa.Table(
    "document_requests",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("case_id", sa.Uuid, sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("period_id", sa.Uuid, sa.ForeignKey("therapy_periods.id"), nullable=True),
    sa.Column("kind", sa.String(24), nullable=False),
    sa.Column("needed_by", sa.Date, nullable=False),
    # an event of the family room with the guardian's encrypted note, if any
    sa.Column("note_event_id", sa.String(255), nullable=True),
    sa.Column("requested_by", sa.Uuid, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("requested_at", UTCDateTime, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("fulfilled_by", sa.Uuid, sa.ForeignKey("documents.id"), nullable=True),
    sa.Column("closed_at", UTCDateTime, nullable=True),
    sa.CheckConstraint(DOCUMENT_KINDS, name="kind"),
    sa.CheckConstraint("status IN ('open','fulfilled','withdrawn')", name="status"),
    sa.Index("ix_document_requests_open", "status", "needed_by"),
)
