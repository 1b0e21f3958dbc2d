"""The tables of the Matrix-shaped device API (docs/matrix-api.md), on the one ``metadata``.

Split from ``schema.py`` only for length; ``schema.py`` imports this module, so every table
is declared whenever the schema is. Public keys, signatures, opaque ciphertexts, ids and
stream positions only: the server never holds a private key or a plaintext.

Streams: ``room_events.pos`` and ``mx_device_list_changes.pos`` are global positions
taken under a transaction-scoped lock (``app/storage/streams.py``), so a reader that saw
position N never later finds a new row below N; to-device rows are numbered per recipient
device from ``device_sequences`` (row-locked until the commit).
"""

from __future__ import annotations

import sqlalchemy as sa

from app.storage.schema import metadata
from app.storage.types import UTCDateTime

# keys (app/keys): the key directory in the Matrix shapes

# a device's signed device keys (the object the device signed, its own signature only;
# the signatures others made are in mx_key_signatures and merged in on query)
mx_device_keys = sa.Table(
    "mx_device_keys",
    metadata,
    sa.Column("device_id", sa.Uuid, sa.ForeignKey("devices.id"), primary_key=True),
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("curve25519", sa.String(64), nullable=False),
    sa.Column("ed25519", sa.String(64), nullable=False),
    sa.Column("key_json", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# signed one-time keys; claimed rows stay (a retried upload of a claimed id is recognised)
mx_one_time_keys = sa.Table(
    "mx_one_time_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("device_id", sa.Uuid, sa.ForeignKey("devices.id"), nullable=False),
    sa.Column("algorithm", sa.String(64), nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("key_json", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("claimed_at", UTCDateTime, nullable=True),
    sa.Column("claimed_by", sa.Uuid, nullable=True),
    sa.UniqueConstraint("device_id", "algorithm", "key_id", name="uq_mx_one_time_keys_id"),
    sa.Index("ix_mx_one_time_keys_unclaimed", "device_id", "algorithm", "claimed_at"),
)

# the device's current fallback key per algorithm (a new key id replaces it)
mx_fallback_keys = sa.Table(
    "mx_fallback_keys",
    metadata,
    sa.Column("device_id", sa.Uuid, sa.ForeignKey("devices.id"), primary_key=True),
    sa.Column("algorithm", sa.String(64), primary_key=True),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("key_json", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("used_at", UTCDateTime, nullable=True),
)

# a user's cross-signing keys: usage master | self_signing | user_signing
mx_cross_signing_keys = sa.Table(
    "mx_cross_signing_keys",
    metadata,
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("usage", sa.String(16), primary_key=True),
    sa.Column("ed25519", sa.String(64), nullable=False),
    sa.Column("key_json", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("usage IN ('master','self_signing','user_signing')", name="usage"),
)

# a verified signature by a signer's key (device or cross-signing) over a target key:
# target_key_id is a device id or a cross-signing public key
mx_key_signatures = sa.Table(
    "mx_key_signatures",
    metadata,
    sa.Column("target_user_id", sa.Uuid, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("target_key_id", sa.String(64), primary_key=True),
    sa.Column("signer_user_id", sa.Uuid, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("signer_key_id", sa.String(80), primary_key=True),
    sa.Column("signature", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# "user U's keys changed" at a stream position (sync's device_lists, keys/changes)
mx_device_list_changes = sa.Table(
    "mx_device_list_changes",
    metadata,
    sa.Column("pos", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("user_id", sa.Uuid, nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# server-side key backup: versions (per user, numbered) and the encrypted session keys
mx_backup_versions = sa.Table(
    "mx_backup_versions",
    metadata,
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("algorithm", sa.String(64), nullable=False),
    sa.Column("auth_data", sa.JSON, nullable=False),
    sa.Column("etag", sa.BigInteger, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("deleted_at", UTCDateTime, nullable=True),
)

mx_backup_keys = sa.Table(
    "mx_backup_keys",
    metadata,
    sa.Column("user_id", sa.Uuid, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("room_id", sa.String(255), primary_key=True),
    sa.Column("session_id", sa.String(255), primary_key=True),
    sa.Column("first_message_index", sa.Integer, nullable=False),
    sa.Column("forwarded_count", sa.Integer, nullable=False),
    sa.Column("is_verified", sa.Boolean, nullable=False),
    sa.Column("session_data", sa.JSON, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.ForeignKeyConstraint(
        ["user_id", "version"],
        ["mx_backup_versions.user_id", "mx_backup_versions.version"],
        name="fk_mx_backup_keys_version",
        ondelete="CASCADE",
    ),
)

# messaging (app/messaging): rooms (= threads), their timelines, to-device mailboxes

# one room event, stored once per room at a global stream position; content is the
# client's JSON (an m.room.encrypted payload: opaque), or a membership event of the server
room_events = sa.Table(
    "room_events",
    metadata,
    sa.Column("pos", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("event_id", sa.String(64), nullable=False, unique=True),
    sa.Column("room_id", sa.Uuid, sa.ForeignKey("threads.id"), nullable=False),
    sa.Column("sender_user_id", sa.Uuid, nullable=False),
    sa.Column("sender_device_id", sa.Uuid, nullable=True),
    sa.Column("type", sa.String(255), nullable=False),
    sa.Column("state_key", sa.String(255), nullable=True),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("origin_server_ts", sa.BigInteger, nullable=False),
    sa.Column("txn_id", sa.String(255), nullable=True),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
    sa.UniqueConstraint("room_id", "sender_device_id", "txn_id", name="uq_room_events_txn"),
    sa.Index("ix_room_events_room_pos", "room_id", "pos"),
)

# who the room's timeline says is joined (kept in step with the case by messaging)
room_members = sa.Table(
    "room_members",
    metadata,
    sa.Column("room_id", sa.Uuid, sa.ForeignKey("threads.id"), primary_key=True),
    sa.Column("user_id", sa.Uuid, primary_key=True),
    sa.Column("joined", sa.Boolean, nullable=False),
    sa.Column("pos", sa.BigInteger, nullable=False),
    sa.Index("ix_room_members_user", "user_id"),
)

# a device's to-device messages, deleted when a later sync acknowledges them
to_device_messages = sa.Table(
    "to_device_messages",
    metadata,
    sa.Column("device_id", sa.Uuid, primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
    sa.Column("sender_user_id", sa.Uuid, nullable=False),
    sa.Column("sender_device_id", sa.Uuid, nullable=False),
    sa.Column("type", sa.String(255), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
)

# how far each device has acknowledged the room stream (the ``since`` of its last sync)
room_acks = sa.Table(
    "room_acks",
    metadata,
    sa.Column("device_id", sa.Uuid, primary_key=True),
    sa.Column("pos", sa.BigInteger, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# "delivered to device": a member's device acknowledged a sync past the room event (one
# row per event and recipient device that existed when it was sent; removed with the event)
room_deliveries = sa.Table(
    "room_deliveries",
    metadata,
    sa.Column("event_pos", sa.BigInteger, primary_key=True),
    sa.Column("device_id", sa.Uuid, primary_key=True),
    sa.Column("user_id", sa.Uuid, nullable=False),
    sa.Column("delivered_at", UTCDateTime, nullable=False),
)

# transaction ids of sendToDevice, per sending device (a retry is answered, not re-sent)
to_device_txns = sa.Table(
    "to_device_txns",
    metadata,
    sa.Column("device_id", sa.Uuid, primary_key=True),
    sa.Column("txn_id", sa.String(255), primary_key=True),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
)
