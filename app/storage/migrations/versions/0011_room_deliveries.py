"""matrix rooms: per-device acknowledgements of the room stream, deliveries of room events

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 13:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.storage.types

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "room_acks",
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("pos", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", app.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_room_acks")),
    )
    op.create_table(
        "room_deliveries",
        sa.Column("event_pos", sa.BigInteger(), nullable=False),
        sa.Column("device_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("delivered_at", app.storage.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_pos", "device_id", name=op.f("pk_room_deliveries")),
    )


def downgrade() -> None:
    op.drop_table("room_deliveries")
    op.drop_table("room_acks")
