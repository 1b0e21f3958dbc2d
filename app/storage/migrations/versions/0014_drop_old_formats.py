"""the earlier, Kaari-own end-to-end formats are gone: their device keys, one-time and
fallback keys, master keys and device signatures, device-list versions, and the per-device
message envelopes with their mailboxes and deliveries (the Matrix tables of 0008 and 0011
hold everything now)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 17:40:00.000000

Nothing is deployed: the tables are dropped, not converted. The downgrade recreates them
empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.storage.types

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mailbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mailbox_expires_at"))
        batch_op.drop_index(batch_op.f("ix_mailbox_envelope_id"))

    op.drop_table("mailbox")
    op.drop_table("deliveries")
    with op.batch_alter_table("envelopes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_envelopes_thread_id"))
        batch_op.drop_index(batch_op.f("ix_envelopes_expires_at"))

    op.drop_table("envelopes")
    with op.batch_alter_table("one_time_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_one_time_keys_unclaimed")

    op.drop_table("one_time_keys")
    op.drop_table("fallback_keys")
    op.drop_table("device_signatures")
    with op.batch_alter_table("device_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_device_keys_user_id"))

    op.drop_table("device_keys")
    op.drop_table("master_keys")
    op.drop_table("device_list_versions")


def downgrade() -> None:
    op.create_table(
        "device_list_versions",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", app.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_device_list_versions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_device_list_versions")),
    )
    op.create_table(
        "master_keys",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("ed25519", sa.String(length=64), nullable=False),
        sa.Column("key_object", sa.JSON(), nullable=False),
        sa.Column("created_at", app.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_master_keys_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_master_keys")),
    )
    op.create_table(
        "device_keys",
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("curve25519", sa.String(length=64), nullable=False),
        sa.Column("ed25519", sa.String(length=64), nullable=False),
        sa.Column("bundle", sa.JSON(), nullable=False),
        sa.Column("created_at", app.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_device_keys_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_device_keys_user_id_users")
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_keys")),
    )
    with op.batch_alter_table("device_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_device_keys_user_id"), ["user_id"], unique=False)

    op.create_table(
        "device_signatures",
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("master_ed25519", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("created_at", app.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_device_signatures_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_device_signatures_user_id_users")
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_device_signatures")),
    )
    op.create_table(
        "fallback_keys",
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("created_at", app.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", app.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_fallback_keys_device_id_devices")
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_fallback_keys")),
    )
    op.create_table(
        "one_time_keys",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.Column("created_at", app.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", app.storage.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_one_time_keys_device_id_devices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_one_time_keys")),
        sa.UniqueConstraint("device_id", "key_id", name="uq_one_time_keys_device_key"),
    )
    with op.batch_alter_table("one_time_keys", schema=None) as batch_op:
        batch_op.create_index(
            "ix_one_time_keys_unclaimed", ["device_id", "claimed_at"], unique=False
        )
    op.create_table(
        "envelopes",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("thread_id", sa.Uuid(), nullable=False),
        sa.Column("sender_user_id", sa.Uuid(), nullable=False),
        sa.Column("sender_device_id", sa.Uuid(), nullable=False),
        sa.Column("client_message_id", sa.String(length=64), nullable=False),
        sa.Column("recipient_count", sa.Integer(), nullable=False),
        sa.Column("created_at", app.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", app.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["thread_id"], ["threads.id"], name=op.f("fk_envelopes_thread_id_threads")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_envelopes")),
        sa.UniqueConstraint("sender_device_id", "client_message_id", name="uq_envelopes_client_id"),
    )
    with op.batch_alter_table("envelopes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_envelopes_expires_at"), ["expires_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_envelopes_thread_id"), ["thread_id"], unique=False)

    op.create_table(
        "deliveries",
        sa.Column("envelope_id", sa.Uuid(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("delivered_at", app.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["envelope_id"],
            ["envelopes.id"],
            name=op.f("fk_deliveries_envelope_id_envelopes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("envelope_id", "device_id", name=op.f("pk_deliveries")),
    )
    op.create_table(
        "mailbox",
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("envelope_id", sa.Uuid(), nullable=False),
        sa.Column("ciphertext", sa.Text(), nullable=False),
        sa.Column("expires_at", app.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["envelope_id"],
            ["envelopes.id"],
            name=op.f("fk_mailbox_envelope_id_envelopes"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", "seq", name=op.f("pk_mailbox")),
    )
    with op.batch_alter_table("mailbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mailbox_envelope_id"), ["envelope_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_mailbox_expires_at"), ["expires_at"], unique=False)
