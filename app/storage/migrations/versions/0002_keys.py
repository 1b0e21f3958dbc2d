"""keys: device keys, one-time and fallback keys, master keys, device signatures, device lists

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:39:40.429000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.storage.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
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


def downgrade() -> None:
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
