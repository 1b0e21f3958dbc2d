"""The relational schema, shared by SQLite and PostgreSQL.

Only server-visible fields live here (DESIGN.md section 4): ids, roles, times,
counts, hashes. Content is never stored in plaintext. Each domain's ``store.py``
is the only code that writes SQL against its tables.
"""

from __future__ import annotations

import sqlalchemy as sa

from app.storage.types import UTCDateTime

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

ROLES = ("admin", "therapist", "guardian", "child", "caregiver")
CASE_ROLES = ("therapist", "guardian", "caregiver", "child")
PAYERS = ("kela", "municipality", "self", "other")

organisations = sa.Table(
    "organisations",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("languages", sa.JSON, nullable=False),
    sa.Column("late_cancel_hours", sa.Integer, nullable=False, server_default="24"),
    # payer -> {"late_cancellation": bool, "no_show": bool}: whether each counts against the period
    sa.Column("counting_policy", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("org_id", sa.Uuid, sa.ForeignKey("organisations.id"), nullable=False, index=True),
    sa.Column("role", sa.String(16), nullable=False),
    # lower-cased; children have none
    sa.Column("email", sa.String(254), nullable=True, unique=True),
    sa.Column("display_name", sa.String(100), nullable=False),
    sa.Column("locale", sa.String(2), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("disabled_at", UTCDateTime, nullable=True),
    sa.CheckConstraint("role IN ('admin','therapist','guardian','child','caregiver')", name="role"),
    sa.CheckConstraint("locale IN ('fi','sv','en')", name="locale"),
)

devices = sa.Table(
    "devices",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("platform", sa.String(32), nullable=False),
    # SHA-256 of the session token; the token itself is never stored
    sa.Column("token_hash", sa.LargeBinary(32), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)

cases = sa.Table(
    "cases",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("org_id", sa.Uuid, sa.ForeignKey("organisations.id"), nullable=False, index=True),
    sa.Column("child_user_id", sa.Uuid, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("closed_at", UTCDateTime, nullable=True),
)

case_members = sa.Table(
    "case_members",
    metadata,
    sa.Column("case_id", sa.Uuid, sa.ForeignKey("cases.id"), primary_key=True),
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), primary_key=True, index=True),
    sa.Column("role", sa.String(16), nullable=False),
    # caregivers only: what a guardian granted, e.g. ["schedule", "homework"]
    sa.Column("scopes", sa.JSON, nullable=True),
    sa.Column("added_at", UTCDateTime, nullable=False),
    sa.Column("added_by", sa.Uuid, sa.ForeignKey("users.id"), nullable=True),
    sa.CheckConstraint("role IN ('therapist','guardian','caregiver','child')", name="role"),
)

therapy_periods = sa.Table(
    "therapy_periods",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("case_id", sa.Uuid, sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("payer", sa.String(16), nullable=False),
    sa.Column("starts_on", sa.Date, nullable=False),
    sa.Column("ends_on", sa.Date, nullable=False),
    sa.Column("sessions_granted", sa.Integer, nullable=False),
    sa.Column("decision_ref", sa.String(64), nullable=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
    sa.CheckConstraint("payer IN ('kela','municipality','self','other')", name="payer"),
    sa.CheckConstraint("ends_on >= starts_on", name="dates"),
    sa.CheckConstraint("sessions_granted >= 0", name="granted"),
)

invites = sa.Table(
    "invites",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("org_id", sa.Uuid, sa.ForeignKey("organisations.id"), nullable=False),
    sa.Column("case_id", sa.Uuid, sa.ForeignKey("cases.id"), nullable=True, index=True),
    # the role the invitee gets: therapist (org-wide), guardian or caregiver (in case_id)
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("scopes", sa.JSON, nullable=True),
    sa.Column("code_hash", sa.LargeBinary(32), nullable=False, unique=True),
    sa.Column("created_by", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("used_at", UTCDateTime, nullable=True),
    sa.Column("used_by", sa.Uuid, sa.ForeignKey("users.id"), nullable=True),
    sa.Column("revoked_at", UTCDateTime, nullable=True),
)

pairing_codes = sa.Table(
    "pairing_codes",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("case_id", sa.Uuid, sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("child_user_id", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
    # HMAC-SHA256(secret_key, code): the code is short, so a plain hash would be guessable
    sa.Column("code_hmac", sa.LargeBinary(32), nullable=False, unique=True),
    sa.Column("created_by", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("used_at", UTCDateTime, nullable=True),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("org_id", sa.Uuid, nullable=True, index=True),
    sa.Column("actor_user_id", sa.Uuid, nullable=True),
    sa.Column("actor_device_id", sa.Uuid, nullable=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target_type", sa.String(32), nullable=True),
    sa.Column("target_id", sa.String(64), nullable=True),
    # ids and flags only, never content
    sa.Column("details", sa.JSON, nullable=True),
    # HMAC of the client address, so repeated abuse can be correlated without storing it
    sa.Column("ip_hash", sa.String(32), nullable=True),
)

# realtime (app/realtime)

# single-use WebSocket tickets, valid for seconds; only the SHA-256 digest is stored.
# No foreign keys: tickets are purged soon after they expire and never block erasing a device.
ws_tickets = sa.Table(
    "ws_tickets",
    metadata,
    sa.Column("ticket_hash", sa.LargeBinary(32), primary_key=True),
    sa.Column("device_id", sa.Uuid, nullable=False),
    sa.Column("user_id", sa.Uuid, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
    sa.Column("used_at", UTCDateTime, nullable=True),
)

# messaging (app/messaging): routing facts and opaque ciphertexts only

# three threads (Matrix rooms) per case: "family" (guardians and therapists), "child" (also
# the child) and "homework" (also caregivers granted homework: app/messaging/room_kinds.py);
# members are the case's members, never stored here
threads = sa.Table(
    "threads",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("case_id", sa.Uuid, sa.ForeignKey("cases.id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.UniqueConstraint("case_id", "kind", name="uq_threads_case_kind"),
    sa.CheckConstraint("kind IN ('family','child','homework','documents')", name="kind"),
)

# the next to-device sequence number of each device; the row lock orders a device's rows
# in commit order, so a reader that saw seq N never later finds a new row below N
device_sequences = sa.Table(
    "device_sequences",
    metadata,
    sa.Column("device_id", sa.Uuid, primary_key=True),
    sa.Column("last_seq", sa.BigInteger, nullable=False),
)

# encrypted attachment blobs (bytes in the blob store, never in the database)
attachments = sa.Table(
    "attachments",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("thread_id", sa.Uuid, sa.ForeignKey("threads.id"), nullable=False, index=True),
    sa.Column("uploader_user_id", sa.Uuid, nullable=False),
    sa.Column("uploader_device_id", sa.Uuid, nullable=False),
    sa.Column("size", sa.BigInteger, nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False, index=True),
)

# appointments (app/appointments): times, statuses, codes and ids; details and notes are
# events of the case's family room, referenced by event id

# a therapy session; more than one case = a group session (group_kind children|adults)
appointments = sa.Table(
    "appointments",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("org_id", sa.Uuid, sa.ForeignKey("organisations.id"), nullable=False, index=True),
    # the occurrences of one weekly series share it
    sa.Column("series_id", sa.Uuid, nullable=True, index=True),
    sa.Column("starts_at", UTCDateTime, nullable=False, index=True),
    sa.Column("duration_minutes", sa.Integer, nullable=False),
    sa.Column("place_kind", sa.String(16), nullable=False),
    sa.Column("group_kind", sa.String(16), nullable=True),
    # scheduled | cancelled (every case's attendance cancelled) | completed | no_show
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_by", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("status IN ('scheduled','cancelled','completed','no_show')", name="status"),
    sa.CheckConstraint(
        "place_kind IN ('home','school','daycare','office','video','other')", name="place_kind"
    ),
    sa.CheckConstraint("group_kind IN ('children','adults')", name="group_kind"),
    sa.CheckConstraint("duration_minutes BETWEEN 45 AND 60", name="duration"),
)

# the therapists who lead the appointment (each a therapist of every one of its cases)
appointment_therapists = sa.Table(
    "appointment_therapists",
    metadata,
    sa.Column("appointment_id", sa.Uuid, sa.ForeignKey("appointments.id"), primary_key=True),
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), primary_key=True, index=True),
)

# who cancels, when, why (a code), whether late by the org's policy. Which cases it covers
# is in appointment_cases.cancellation_id: all of them, or a guardian's case of a group
# session; each covered case's note event is appointment_cases.note_event_id
cancellations = sa.Table(
    "cancellations",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column(
        "appointment_id", sa.Uuid, sa.ForeignKey("appointments.id"), nullable=False, index=True
    ),
    sa.Column("cancelled_by", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("cancelled_by_device", sa.Uuid, nullable=False),
    # the canceller's role: a case role, or admin
    sa.Column("cancelled_by_role", sa.String(16), nullable=False),
    sa.Column("reason", sa.String(32), nullable=False),
    sa.Column("late", sa.Boolean, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.CheckConstraint(
        "reason IN ('illness','family','therapist_unavailable','other')", name="reason"
    ),
)

# each case's attendance of an appointment: its own status (for period accounting), the
# event of the case's family room with its details, and the note event of its cancellation
appointment_cases = sa.Table(
    "appointment_cases",
    metadata,
    sa.Column("appointment_id", sa.Uuid, sa.ForeignKey("appointments.id"), primary_key=True),
    sa.Column("case_id", sa.Uuid, sa.ForeignKey("cases.id"), primary_key=True, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("cancellation_id", sa.Uuid, sa.ForeignKey("cancellations.id"), nullable=True),
    sa.Column("details_event_id", sa.String(255), nullable=True),
    sa.Column("note_event_id", sa.String(255), nullable=True),
    sa.Column("status_changed_at", UTCDateTime, nullable=True),
    sa.Column("status_changed_by", sa.Uuid, sa.ForeignKey("users.id"), nullable=True),
    sa.CheckConstraint("status IN ('scheduled','cancelled','completed','no_show')", name="status"),
)

# "seen" receipts of a cancellation notice, one per device
cancellation_acks = sa.Table(
    "cancellation_acks",
    metadata,
    sa.Column("cancellation_id", sa.Uuid, sa.ForeignKey("cancellations.id"), primary_key=True),
    sa.Column("device_id", sa.Uuid, primary_key=True),
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("seen_at", UTCDateTime, nullable=False),
)

# notifications (app/notifications): where and when to notify, never what was said

# a device's Web Push subscription (RFC 8030): the push service's URL and the keys that
# encrypt for the browser (RFC 8291); dropped when the push service answers 404/410
push_subscriptions = sa.Table(
    "push_subscriptions",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), nullable=False, index=True),
    # the device that registered it: a revoked device's subscriptions get nothing
    sa.Column("device_id", sa.Uuid, sa.ForeignKey("devices.id"), nullable=False, index=True),
    sa.Column("endpoint", sa.String(1024), nullable=False, unique=True),
    # the browser's P-256 public key (65 bytes) and auth secret (16 bytes), base64url
    sa.Column("p256dh", sa.String(100), nullable=False),
    sa.Column("auth", sa.String(32), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# a user's channels per event kind (JSON: kind -> ["push", "email", "sms"]); absent kinds
# take the defaults (app/notifications/texts.py)
notification_preferences = sa.Table(
    "notification_preferences",
    metadata,
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("channels", sa.JSON, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
)

# quiet hours of the child's devices in a case, set by a guardian: local wall-clock times
# in Europe/Helsinki; push and outbox notices to the child wait until they end
quiet_hours = sa.Table(
    "quiet_hours",
    metadata,
    sa.Column("case_id", sa.Uuid, sa.ForeignKey("cases.id"), primary_key=True),
    sa.Column("starts_minute", sa.Integer, nullable=False),
    sa.Column("ends_minute", sa.Integer, nullable=False),
    sa.Column("set_by", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("starts_minute BETWEEN 0 AND 1439", name="starts"),
    sa.CheckConstraint("ends_minute BETWEEN 0 AND 1439", name="ends"),
)

# one notice to send on one channel: a push to one subscription, or an e-mail/SMS through
# the gateway. Only the event kind and ids are stored; the text is made when it is sent.
# Claimed by moving next_attempt_at ahead (a lease), so a crashed sender's row comes back.
notification_outbox = sa.Table(
    "notification_outbox",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("channel", sa.String(8), nullable=False),
    sa.Column(
        "subscription_id",
        sa.Uuid,
        sa.ForeignKey("push_subscriptions.id", ondelete="SET NULL"),
        nullable=True,
        index=True,
    ),
    sa.Column("kind", sa.String(64), nullable=False),
    # the event's ids (JSON object of short strings), e.g. {"appointmentId": "…"}
    sa.Column("ids", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", UTCDateTime, nullable=True),
    sa.Column("delivered_at", UTCDateTime, nullable=True),
    # given up (too many attempts, or refused for good); next_attempt_at is then NULL
    sa.Column("failed_at", UTCDateTime, nullable=True),
    # a stable code (http_503, timeout, gone, …), never a message or a body
    sa.Column("last_error", sa.String(32), nullable=True),
    sa.CheckConstraint("channel IN ('push','email','sms')", name="channel"),
    sa.Index("ix_notification_outbox_due", "next_attempt_at"),
)

# a reminder decided for one recipient: the key makes it happen once across restarts and
# instances (the insert and the reminder's outbox rows commit together)
reminders_sent = sa.Table(
    "reminders_sent",
    metadata,
    sa.Column("kind", sa.String(32), primary_key=True),
    sa.Column("target_id", sa.Uuid, primary_key=True),
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("sent_at", UTCDateTime, nullable=False),
)

# a user's secret calendar feed URL; only the SHA-256 of its token is stored
calendar_tokens = sa.Table(
    "calendar_tokens",
    metadata,
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), primary_key=True),
    sa.Column("token_hash", sa.LargeBinary(32), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# homework (app/homework): the schedule, the status and the ticks are server-visible; a
# task's title, instructions and media and a tick's note are Megolm ciphertexts (JSON text)

# a task: its id is chosen by the therapist's device (the encrypted content names it);
# ``plan`` is the schedule as JSON: start, end and the segments (a rule, or a pause), so an
# edit never rewrites the weeks already past
homework_tasks = sa.Table(
    "homework_tasks",
    metadata,
    sa.Column("id", sa.Uuid, primary_key=True),
    sa.Column("case_id", sa.Uuid, sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("created_by", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
    # the event of the case's homework room that holds the title, instructions and media
    sa.Column("content_event_id", sa.String(255), nullable=False),
    sa.Column("content_version", sa.Integer, nullable=False),
    sa.Column("plan", sa.Text, nullable=False),
    sa.Column("starts_on", sa.Date, nullable=False),
    sa.Column("ends_on", sa.Date, nullable=True),
    sa.Column("tick_by", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("status IN ('active','paused','finished')", name="status"),
    sa.CheckConstraint("tick_by IN ('child','guardian','both')", name="tick_by"),
)

# one tick of a task for one local day: who, from which device, the device's clock and the
# server's; ``notified_at`` is set once the therapists' batched push has covered it
homework_ticks = sa.Table(
    "homework_ticks",
    metadata,
    sa.Column("task_id", sa.Uuid, sa.ForeignKey("homework_tasks.id"), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("case_id", sa.Uuid, sa.ForeignKey("cases.id"), nullable=False, index=True),
    sa.Column("user_id", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("device_id", sa.Uuid, nullable=False),
    sa.Column("client_time", UTCDateTime, nullable=False),
    sa.Column("received_at", UTCDateTime, nullable=False),
    # the event of the case's homework room that holds the note or emoji
    sa.Column("note_event_id", sa.String(255), nullable=True),
    sa.Column("notified_at", UTCDateTime, nullable=True),
    sa.Index("ix_homework_ticks_unnotified", "notified_at", "received_at"),
)

# a case's daily homework reminder on the child's devices, at a local time a guardian chose
homework_reminders = sa.Table(
    "homework_reminders",
    metadata,
    sa.Column("case_id", sa.Uuid, sa.ForeignKey("cases.id"), primary_key=True),
    sa.Column("minute", sa.Integer, nullable=False),
    sa.Column("set_by", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.CheckConstraint("minute BETWEEN 0 AND 1439", name="minute"),
)

# a day the child was ill: that day's homework expects nothing and the reminder stays
# silent (a guardian or therapist marks it, usually with an illness cancellation)
homework_sick_days = sa.Table(
    "homework_sick_days",
    metadata,
    sa.Column("case_id", sa.Uuid, sa.ForeignKey("cases.id"), primary_key=True),
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("marked_by", sa.Uuid, sa.ForeignKey("users.id"), nullable=False),
    sa.Column("marked_at", UTCDateTime, nullable=False),
)

# the Matrix-shaped device API's tables are declared in schema_matrix.py (for length)
# therapy documents' tables are declared in schema_documents.py (for length)
from app.storage import schema_documents as _schema_documents  # noqa: E402, F401
from app.storage import schema_matrix as _schema_matrix  # noqa: E402, F401

# data protection's tables are declared in schema_privacy.py (for length)
from app.storage import schema_privacy as _schema_privacy  # noqa: E402, F401
