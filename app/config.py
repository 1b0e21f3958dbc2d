"""Settings read from ``KAARI_*`` environment variables.

Every setting is documented here and in README.md. ``Settings.from_env`` is the
only place the environment is read; the rest of the app receives a ``Settings``.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Literal

import msgspec

DEV_SECRET_KEY = "kaari-development-secret-key-do-not-use-in-production"  # noqa: S105

Environment = Literal["development", "production"]

_DNS_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
#: Shortest TURN secret accepted in production (coturn's static-auth-secret).
MIN_TURN_SECRET_PRODUCTION = 32


def _is_turn_host(host: str) -> bool:
    """A DNS name, an IPv4 address or a bracketed IPv6 address (as it goes into a TURN URL)."""
    if host.startswith("[") and host.endswith("]"):
        try:
            return ipaddress.ip_address(host[1:-1]).version == 6
        except ValueError:
            return False
    labels = host.removesuffix(".").split(".")
    return len(host) <= 253 and all(_DNS_LABEL.match(label) for label in labels)


def _is_allowed_push_host(entry: str) -> bool:
    """A DNS name, or ``*.`` and one (an entry of KAARI_PUSH_ALLOWED_HOSTS)."""
    name = entry[2:] if entry.startswith("*.") else entry
    return bool(name) and all(_DNS_LABEL.match(label) for label in name.split("."))


def _is_server_name(name: str) -> bool:
    """A Matrix server name: a DNS name or address, optionally ``:port`` (no path)."""
    host, sep, port = name.rpartition(":") if not name.endswith("]") else (name, "", "")
    if not sep:
        host = name
    elif not (port.isdigit() and 0 < int(port) < 65536):
        return False
    return len(name) <= 230 and _is_turn_host(host)


class ConfigError(Exception):
    """The configuration cannot be used; the message says which variable and why."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    env: Environment = "development"
    """KAARI_ENV: ``development`` or ``production``; production refuses development secrets."""
    database_url: str = ""
    """KAARI_DATABASE_URL: ``sqlite:///path`` or ``postgresql://…``; empty = SQLite in data_dir."""
    redis_url: str = ""
    """KAARI_REDIS_URL: ``redis://…``; empty = in-process bus and memory rate limits."""
    redis_prefix: str = "kaari:"
    """KAARI_REDIS_PREFIX: prefix of every Redis key (several deployments on one Redis)."""
    data_dir: str = "./var"
    """KAARI_DATA_DIR: where the SQLite file and blobs live by default."""
    secret_key: str = DEV_SECRET_KEY
    """KAARI_SECRET_KEY: at least 32 characters; keys the HMAC of pairing codes and IP hashes."""
    server_name: str = ""
    """KAARI_SERVER_NAME: the Matrix server name in user and room ids (``@<uuid>:<name>``);
    required in production, ``localhost`` in development when empty."""
    room_event_retention_days: int = 730
    """KAARI_ROOM_EVENT_RETENTION_DAYS: how long room events (the rooms' history) are kept:
    by default a therapy period (up to a year) plus a year."""
    message_notice_minutes: int = 10
    """KAARI_MESSAGE_NOTICE_MINUTES: after a "new message" notice, a member gets no other
    for the same room for this long (per instance; 0: one per event)."""
    to_device_retention_days: int = 30
    """KAARI_TO_DEVICE_RETENTION_DAYS: unacknowledged to-device messages expire after this."""
    host: str = "127.0.0.1"
    """KAARI_HOST: address ``kaari serve`` binds to."""
    port: int = 8000
    """KAARI_PORT: port ``kaari serve`` binds to."""
    forwarded_allow_ips: str = "127.0.0.1"
    """KAARI_FORWARDED_ALLOW_IPS: proxies whose X-Forwarded-For is trusted (comma list or *)."""
    log_level: str = "INFO"
    """KAARI_LOG_LEVEL: DEBUG, INFO, WARNING or ERROR."""
    argon2_memory_kib: int = 19456
    """KAARI_ARGON2_MEMORY_KIB: argon2id memory cost; never below OWASP's 19456."""
    argon2_time_cost: int = 2
    """KAARI_ARGON2_TIME_COST: argon2id iterations; never below 2."""
    argon2_parallelism: int = 1
    """KAARI_ARGON2_PARALLELISM: argon2id lanes."""
    password_hash_workers: int = 0
    """KAARI_PASSWORD_HASH_WORKERS: threads hashing passwords; 0 = one fewer than the cores."""
    login_max_failures_per_address: int = 5
    """KAARI_LOGIN_MAX_FAILURES_PER_ADDRESS: failed sign-ins into one account from one
    address within the window; then that address (only) is refused for that account (429)."""
    login_slowdown_after_failures: int = 20
    """KAARI_LOGIN_SLOWDOWN_AFTER_FAILURES: failed sign-ins into one account from all
    addresses within the window after which every attempt on it is slowed (never refused:
    a stranger cannot lock the owner out)."""
    login_max_delay_seconds: float = 10.0
    """KAARI_LOGIN_MAX_DELAY_SECONDS: the longest added delay of a slowed sign-in (0.5 s at
    the threshold, doubling with each further failure up to this)."""
    login_max_attempts_per_ip: int = 30
    """KAARI_LOGIN_MAX_ATTEMPTS_PER_IP: login, invite and pairing tries per address per window."""
    login_window_seconds: int = 900
    """KAARI_LOGIN_WINDOW_SECONDS: the rate-limit window for the limits above."""
    invite_ttl_hours: int = 72
    """KAARI_INVITE_TTL_HOURS: how long an invite code stays valid."""
    pairing_ttl_seconds: int = 600
    """KAARI_PAIRING_TTL_SECONDS: how long a child-pairing code stays valid."""
    session_idle_days: int = 90
    """KAARI_SESSION_IDLE_DAYS: a device unseen this long must sign in again."""
    max_body_bytes: int = 1_048_576
    """KAARI_MAX_BODY_BYTES: largest JSON request body accepted."""
    hsts_seconds: int = 0
    """KAARI_HSTS_SECONDS: ``Strict-Transport-Security`` max-age sent on answers to HTTPS
    requests (TLS at the proxy: its X-Forwarded-Proto, from KAARI_FORWARDED_ALLOW_IPS);
    0 = no HSTS. Set it (e.g. 31536000) once every name of the service serves HTTPS."""
    schema_viewer: bool = True
    """KAARI_SCHEMA_VIEWER: serve the interactive API viewer under /schema (its script
    comes from a CDN); always off in production, where /schema serves the JSON only."""
    ws_ticket_ttl_seconds: int = 30
    """KAARI_WS_TICKET_TTL_SECONDS: how long a single-use WebSocket ticket stays valid."""
    ws_heartbeat_seconds: float = 25.0
    """KAARI_WS_HEARTBEAT_SECONDS: the server sends ``ping`` and re-checks sessions this often."""
    ws_idle_timeout_seconds: float = 60.0
    """KAARI_WS_IDLE_TIMEOUT_SECONDS: a socket that sent nothing this long is closed (4408)."""
    ws_queue_frames: int = 256
    """KAARI_WS_QUEUE_FRAMES: frames waiting per socket before it is closed with 4008 resync."""
    ws_rate_per_second: float = 20.0
    """KAARI_WS_RATE_PER_SECOND: frames a socket may send per second (token bucket refill)."""
    ws_rate_burst: int = 40
    """KAARI_WS_RATE_BURST: frames a socket may send in a burst (token bucket size)."""
    ws_rate_strikes: int = 20
    """KAARI_WS_RATE_STRIKES: frames refused in a row for the rate before closing (4029)."""
    ws_max_frame_bytes: int = 65_536
    """KAARI_WS_MAX_FRAME_BYTES: largest inbound WebSocket frame handled."""
    sends_per_device_per_minute: int = 120
    """KAARI_SENDS_PER_DEVICE_PER_MINUTE: messages a device may send per minute (thread
    messages and Matrix room events together)."""
    to_device_sends_per_device_per_minute: int = 120
    """KAARI_TO_DEVICE_SENDS_PER_DEVICE_PER_MINUTE: Matrix ``sendToDevice`` requests a device
    may make per minute (one request may address many devices)."""
    key_backup_writes_per_device_per_minute: int = 60
    """KAARI_KEY_BACKUP_WRITES_PER_DEVICE_PER_MINUTE: writes to the Matrix key backup
    (versions and keys, uploads and deletions) a device may make per minute."""
    attachments_per_device_per_hour: int = 120
    """KAARI_ATTACHMENTS_PER_DEVICE_PER_HOUR: attachment uploads a device may start per hour."""
    attachment_bytes_per_device_per_day: int = 268_435_456
    """KAARI_ATTACHMENT_BYTES_PER_DEVICE_PER_DAY: attachment bytes a device may store per
    day (256 MiB; one attachment is at most KAARI_ATTACHMENT_MAX_BYTES)."""
    ticks_per_device_per_hour: int = 300
    """KAARI_TICKS_PER_DEVICE_PER_HOUR: homework ticks and undos a device may make per hour."""
    cases_per_user_per_day: int = 50
    """KAARI_CASES_PER_USER_PER_DAY: cases a therapist may open per day."""
    case_records_per_user_per_hour: int = 120
    """KAARI_CASE_RECORDS_PER_USER_PER_HOUR: homework tasks and funding periods a user may
    create per hour."""
    push_subscriptions_per_user_per_day: int = 50
    """KAARI_PUSH_SUBSCRIPTIONS_PER_USER_PER_DAY: Web Push subscriptions a user may register
    per day (each endpoint is resolved and checked)."""
    invites_per_user_per_day: int = 100
    """KAARI_INVITES_PER_USER_PER_DAY: invites (organisation and case) and child-pairing
    codes a user may create per day."""
    calendar_tokens_per_user_per_day: int = 20
    """KAARI_CALENDAR_TOKENS_PER_USER_PER_DAY: calendar feed links a user may create per day."""
    exports_per_user_per_day: int = 10
    """KAARI_EXPORTS_PER_USER_PER_DAY: data exports (``GET /me/export``) a user may download
    per day; each reads all their data and their attachments."""
    appointment_creations_per_user_per_hour: int = 120
    """KAARI_APPOINTMENT_CREATIONS_PER_USER_PER_HOUR: appointments (a weekly series counts
    once; it has at most 52 occurrences) a therapist may create per hour."""
    ws_sockets_per_device: int = 4
    """KAARI_WS_SOCKETS_PER_DEVICE: WebSocket connections one device may hold at once (all
    instances); one more is refused with close code 4029."""
    ws_sockets_per_user: int = 12
    """KAARI_WS_SOCKETS_PER_USER: WebSocket connections one user's devices may hold at once."""
    ws_oversize_strikes: int = 5
    """KAARI_WS_OVERSIZE_STRIKES: frames over KAARI_WS_MAX_FRAME_BYTES (each closes its socket
    with 1009) a device may send per hour before its WebSocket tickets are refused (429)
    for the rest of that hour."""
    bus_resync_seconds: float = 2.0
    """KAARI_BUS_RESYNC_SECONDS: while the event bus (Redis) is unreachable, every waiting
    sync looks at the database again this often, so messages still arrive within seconds."""
    web_dir: str = ""
    """KAARI_WEB_DIR: the built web app served at /app/; empty = web/dist of this checkout."""
    blob_dir: str = ""
    """KAARI_BLOB_DIR: where encrypted attachment blobs are stored; empty = data_dir/blobs."""
    attachment_max_bytes: int = 26_214_400
    """KAARI_ATTACHMENT_MAX_BYTES: largest encrypted attachment accepted (25 MiB)."""
    message_retention_days: int = 30
    """KAARI_MESSAGE_RETENTION_DAYS: attachments expire after this."""
    purge_interval_seconds: float = 3600.0
    """KAARI_PURGE_INTERVAL_SECONDS: how often each instance deletes expired messages (and
    runs the retention jobs below)."""
    outbox_retention_days: int = 30
    """KAARI_OUTBOX_RETENTION_DAYS: delivered (or given-up) notices are deleted this long
    after they were delivered (or given up)."""
    homework_retention_days: int = 365
    """KAARI_HOMEWORK_RETENTION_DAYS: a closed case's homework tasks, ticks and reminder
    time are deleted this long after the case was closed."""
    audit_retention_days: int = 4749
    """KAARI_AUDIT_RETENTION_DAYS: audit events are deleted at this age (13 years: every
    event is kept at least 12 full years after the end of the year it happened in)."""
    blob_orphan_hours: float = 24.0
    """KAARI_BLOB_ORPHAN_HOURS: a blob file without its attachment record, or an upload's
    ``.part`` file, untouched for this long is deleted."""
    turn_host: str = ""
    """KAARI_TURN_HOST: the coturn server's public name or address; empty = no TURN relay."""
    turn_secrets: str = ""
    """KAARI_TURN_SECRETS: coturn static-auth-secrets, comma-separated; the first signs new
    credentials, the others are older ones coturn still accepts while they expire (rotation)."""
    turn_port: int = 3478
    """KAARI_TURN_PORT: coturn's port for STUN and TURN over UDP and TCP."""
    turn_tls_port: int = 443
    """KAARI_TURN_TLS_PORT: coturn's TLS port, offered as ``turns:``; 0 = none."""
    turn_credential_ttl_seconds: int = 3600
    """KAARI_TURN_CREDENTIAL_TTL_SECONDS: lifetime of a TURN credential (60 s to 1 day)."""
    stun_urls: str = ""
    """KAARI_STUN_URLS: extra ``stun:host:port`` URLs, comma-separated (the TURN host is
    offered for STUN already); empty and no TURN = no ICE server at all."""
    precall_max_peers: int = 4
    """KAARI_PRECALL_MAX_PEERS: pre-call echo peers running at once per instance; 0 = off."""
    precall_timeout_seconds: float = 60.0
    """KAARI_PRECALL_TIMEOUT_SECONDS: an echo peer is closed this long after it starts."""
    precall_pass_ttl_seconds: int = 900
    """KAARI_PRECALL_PASS_TTL_SECONDS: lifetime of the pass that opens the pre-call page."""
    precall_host_addresses: str = ""
    """KAARI_PRECALL_HOST_ADDRESSES: the only addresses the echo peer offers as host
    candidates, comma-separated; empty = every interface but loopback (aiortc's choice)."""
    room_open_before_minutes: int = 15
    """KAARI_ROOM_OPEN_BEFORE_MINUTES: a video appointment's room opens this long before it."""
    room_grace_minutes: int = 15
    """KAARI_ROOM_GRACE_MINUTES: the room stays open this long after the appointment's end."""
    room_seat_grace_seconds: float = 30.0
    """KAARI_ROOM_SEAT_GRACE_SECONDS: a participant whose socket dropped keeps their seat
    (and place in the waiting room) this long; joining again within it resumes."""
    room_max_participants: int = 8
    """KAARI_ROOM_MAX_PARTICIPANTS: seats of one room at most (a mesh: each device sends
    its video to every other one)."""
    room_max_children: int = 5
    """KAARI_ROOM_MAX_CHILDREN: children seated at once per leading therapist of a room (5:
    the largest group the appointment rules book, 3-5 adults; children's groups are 2-4)."""
    vapid_private_key: str = ""
    """KAARI_VAPID_PRIVATE_KEY: the Web Push (VAPID, RFC 8292) signing key, a P-256 private
    key as base64url of its 32-byte scalar or as PEM; empty = generated once into
    data_dir/vapid_private_key in development, refused in production."""
    vapid_subject: str = ""
    """KAARI_VAPID_SUBJECT: a ``mailto:`` or ``https:`` contact the push services may use;
    required in production."""
    push_allowed_hosts: str = ""
    """KAARI_PUSH_ALLOWED_HOSTS: the push services the server sends to, comma-separated
    (``fcm.googleapis.com`` is that host and its subdomains, ``*.notify.windows.com`` only
    the subdomains); empty = any host whose every address is public."""
    push_allow_loopback: bool = False
    """KAARI_PUSH_ALLOW_LOOPBACK: development only: push endpoints on a loopback host (any
    port, http too) are accepted, for a local push-service stand-in; refused in production."""
    notify_gateway_url: str = ""
    """KAARI_NOTIFY_GATEWAY_URL: the HTTP gateway that sends e-mail and SMS notices
    (docs/notifications.md); empty = e-mail and SMS are off."""
    notify_poll_seconds: float = 5.0
    """KAARI_NOTIFY_POLL_SECONDS: how often each instance looks for due outbox rows (new
    rows of its own wake it at once)."""
    notify_retry_base_seconds: float = 30.0
    """KAARI_NOTIFY_RETRY_BASE_SECONDS: the first retry delay of a failed notice; doubles
    each attempt up to an hour."""
    notify_max_attempts: int = 8
    """KAARI_NOTIFY_MAX_ATTEMPTS: a notice is given up after this many failed attempts."""
    reminder_interval_seconds: float = 60.0
    """KAARI_REMINDER_INTERVAL_SECONDS: how often each instance looks for reminders due."""
    homework_digest_minutes: float = 60.0
    """KAARI_HOMEWORK_DIGEST_MINUTES: a therapist gets at most one push per case in this
    time about the homework ticked (the live event goes at once)."""
    public_url: str = ""
    """KAARI_PUBLIC_URL: the web app's address (``https://kaari.example.fi``), the base of
    password reset links; required (https) in production when e-mail is on,
    ``http://localhost:8000`` when empty in development."""
    password_reset_ttl_minutes: int = 30
    """KAARI_PASSWORD_RESET_TTL_MINUTES: a reset link works once, for this long (5 to 1440)."""
    password_reset_max_per_address: int = 10
    """KAARI_PASSWORD_RESET_MAX_PER_ADDRESS: reset requests (and completions) per client
    address per hour; the same limit applies to each e-mail address at a fifth of it."""
    test_clock_start: str = ""
    """KAARI_TEST_CLOCK_START: development only: the server's clock starts at this RFC 3339
    instant and runs on from the process start (scenario tests of reminders)."""
    metrics_token: str = ""
    """KAARI_METRICS_TOKEN: the bearer token ``/metrics`` requires; in production
    ``/metrics`` answers 404 while it is unset (docs/operations.md "Metrics")."""
    insecure_test_hashing: bool = False
    """KAARI_INSECURE_TEST_HASHING: development only (the test suite): argon2id parameters
    below OWASP's minimum are accepted, so that a test hashes in a millisecond; refused
    in production."""

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def matrix_server_name(self) -> str:
        return self.server_name or "localhost"

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{Path(self.data_dir) / 'kaari.sqlite3'}"

    @property
    def effective_blob_dir(self) -> Path:
        return Path(self.blob_dir) if self.blob_dir else Path(self.data_dir) / "blobs"

    @property
    def turn_secret_list(self) -> list[str]:
        """The TURN secrets, newest (signing) first."""
        return [part.strip() for part in self.turn_secrets.split(",") if part.strip()]

    @property
    def stun_url_list(self) -> list[str]:
        return [part.strip() for part in self.stun_urls.split(",") if part.strip()]

    @property
    def precall_host_address_list(self) -> list[str]:
        return [part.strip() for part in self.precall_host_addresses.split(",") if part.strip()]

    def check(self) -> Settings:
        """Refuse settings that are unsafe or out of range; returns self for chaining."""
        if self.env not in ("development", "production"):
            raise ConfigError(f"KAARI_ENV must be development or production, not {self.env!r}")
        if self.is_production:
            if self.secret_key == DEV_SECRET_KEY:
                raise ConfigError("KAARI_SECRET_KEY must be set in production")
            if len(self.secret_key) < 32:
                raise ConfigError("KAARI_SECRET_KEY must be at least 32 characters")
            if self.metrics_token and len(self.metrics_token) < 32:
                raise ConfigError("KAARI_METRICS_TOKEN must be at least 32 characters")
        below_owasp = self.argon2_memory_kib < 19456 or self.argon2_time_cost < 2
        if below_owasp and (self.is_production or not self.insecure_test_hashing):
            raise ConfigError("argon2id parameters below OWASP's minimum (m=19456 KiB, t=2)")
        if self.insecure_test_hashing and self.is_production:
            raise ConfigError("KAARI_INSECURE_TEST_HASHING is for development only")
        if self.argon2_memory_kib < 8 * self.argon2_parallelism or self.argon2_time_cost < 1:
            raise ConfigError("argon2id needs at least 8 KiB per lane and one iteration")
        if self.password_hash_workers < 0:
            raise ConfigError("KAARI_PASSWORD_HASH_WORKERS must be 0 (automatic) or more")
        if self.argon2_parallelism < 1:
            raise ConfigError("KAARI_ARGON2_PARALLELISM must be at least 1")
        if not (0 <= self.hsts_seconds <= 63_072_000):
            raise ConfigError("KAARI_HSTS_SECONDS must be between 0 (off) and 63072000 (2 years)")
        if not (0 < self.port < 65536):
            raise ConfigError("KAARI_PORT must be between 1 and 65535")
        for name in (
            "login_max_failures_per_address",
            "login_slowdown_after_failures",
            "login_max_delay_seconds",
            "login_max_attempts_per_ip",
            "login_window_seconds",
            "invite_ttl_hours",
            "pairing_ttl_seconds",
            "session_idle_days",
            "max_body_bytes",
            "ws_ticket_ttl_seconds",
            "ws_heartbeat_seconds",
            "ws_idle_timeout_seconds",
            "ws_queue_frames",
            "ws_rate_per_second",
            "ws_rate_burst",
            "ws_rate_strikes",
            "ws_max_frame_bytes",
            "sends_per_device_per_minute",
            "to_device_sends_per_device_per_minute",
            "key_backup_writes_per_device_per_minute",
            "attachments_per_device_per_hour",
            "attachment_bytes_per_device_per_day",
            "ticks_per_device_per_hour",
            "cases_per_user_per_day",
            "case_records_per_user_per_hour",
            "push_subscriptions_per_user_per_day",
            "invites_per_user_per_day",
            "calendar_tokens_per_user_per_day",
            "exports_per_user_per_day",
            "appointment_creations_per_user_per_hour",
            "ws_sockets_per_device",
            "ws_sockets_per_user",
            "ws_oversize_strikes",
            "bus_resync_seconds",
            "attachment_max_bytes",
            "message_retention_days",
            "room_event_retention_days",
            "to_device_retention_days",
            "purge_interval_seconds",
            "outbox_retention_days",
            "homework_retention_days",
            "audit_retention_days",
            "room_seat_grace_seconds",
            "room_max_participants",
            "room_max_children",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"KAARI_{name.upper()} must be positive")
        url = self.effective_database_url
        if not url.startswith(("sqlite:", "postgresql:", "postgres:")):
            raise ConfigError("KAARI_DATABASE_URL must be a sqlite:/// or postgresql:// URL")
        if self.ws_sockets_per_user < self.ws_sockets_per_device:
            raise ConfigError("KAARI_WS_SOCKETS_PER_USER must be at least _PER_DEVICE")
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("KAARI_REDIS_URL must be a redis:// or rediss:// URL")
        if self.blob_orphan_hours < 1:
            # an upload in progress writes its .part file all the time; an hour of silence
            # is far beyond any request timeout, so the sweep never takes a live upload
            raise ConfigError("KAARI_BLOB_ORPHAN_HOURS must be at least 1")
        if self.room_open_before_minutes < 0 or self.room_grace_minutes < 0:
            raise ConfigError("KAARI_ROOM_OPEN_BEFORE_MINUTES and _GRACE_MINUTES must be >= 0")
        self._check_rtc()
        self._check_notifications()
        if self.is_production and not self.server_name:
            raise ConfigError("KAARI_SERVER_NAME must be set in production")
        if self.server_name and not _is_server_name(self.server_name):
            raise ConfigError("KAARI_SERVER_NAME must be a host name, optionally with :port")
        return self

    def _check_notifications(self) -> None:
        if self.is_production:
            if not self.vapid_private_key:
                raise ConfigError("KAARI_VAPID_PRIVATE_KEY must be set in production")
            if not self.vapid_subject:
                raise ConfigError("KAARI_VAPID_SUBJECT must be set in production")
            if self.test_clock_start:
                raise ConfigError("KAARI_TEST_CLOCK_START is for development only")
            if self.push_allow_loopback:
                raise ConfigError("KAARI_PUSH_ALLOW_LOOPBACK is for development only")
            if self.notify_gateway_url and not self.notify_gateway_url.startswith("https://"):
                raise ConfigError("KAARI_NOTIFY_GATEWAY_URL must be https:// in production")
            if self.notify_gateway_url and not self.public_url.startswith("https://"):
                raise ConfigError(
                    "KAARI_PUBLIC_URL must be an https:// URL in production (reset links)"
                )
        if self.public_url and not self.public_url.startswith(("http://", "https://")):
            raise ConfigError("KAARI_PUBLIC_URL must be an http(s):// URL")
        if not 5 <= self.password_reset_ttl_minutes <= 1440:
            raise ConfigError("KAARI_PASSWORD_RESET_TTL_MINUTES must be 5 to 1440")
        if self.password_reset_max_per_address < 5:
            raise ConfigError("KAARI_PASSWORD_RESET_MAX_PER_ADDRESS must be at least 5")
        for entry in self.push_allowed_hosts.split(","):
            name = entry.strip().lower().rstrip(".")
            if entry.strip() and not _is_allowed_push_host(name):
                raise ConfigError(
                    "KAARI_PUSH_ALLOWED_HOSTS must be host names (or *.domain), comma-separated"
                )
        if self.vapid_subject and not self.vapid_subject.startswith(("mailto:", "https://")):
            raise ConfigError("KAARI_VAPID_SUBJECT must be a mailto: or https: URL")
        if self.notify_gateway_url and not self.notify_gateway_url.startswith(
            ("http://", "https://")
        ):
            raise ConfigError("KAARI_NOTIFY_GATEWAY_URL must be an http(s):// URL")
        for name in (
            "notify_poll_seconds",
            "notify_retry_base_seconds",
            "notify_max_attempts",
            "reminder_interval_seconds",
            "homework_digest_minutes",
        ):
            if getattr(self, name) <= 0:
                raise ConfigError(f"KAARI_{name.upper()} must be positive")
        if self.test_clock_start:
            try:
                start = datetime.fromisoformat(self.test_clock_start)
            except ValueError:
                start = None
            if start is None or start.tzinfo is None:
                raise ConfigError("KAARI_TEST_CLOCK_START must be an RFC 3339 time with offset")

    def _check_rtc(self) -> None:
        if self.turn_host:
            if not _is_turn_host(self.turn_host):
                raise ConfigError(
                    "KAARI_TURN_HOST must be a host name or address (IPv6 in brackets), "
                    "without scheme or port"
                )
            secrets = self.turn_secret_list
            if not secrets:
                raise ConfigError("KAARI_TURN_SECRETS must be set when KAARI_TURN_HOST is")
            if self.is_production and any(
                len(secret) < MIN_TURN_SECRET_PRODUCTION for secret in secrets
            ):
                raise ConfigError(
                    f"every KAARI_TURN_SECRETS entry must be at least "
                    f"{MIN_TURN_SECRET_PRODUCTION} characters in production"
                )
        if not (0 < self.turn_port < 65536):
            raise ConfigError("KAARI_TURN_PORT must be between 1 and 65535")
        if not (0 <= self.turn_tls_port < 65536):
            raise ConfigError("KAARI_TURN_TLS_PORT must be between 0 (none) and 65535")
        if not (60 <= self.turn_credential_ttl_seconds <= 86_400):
            raise ConfigError("KAARI_TURN_CREDENTIAL_TTL_SECONDS must be between 60 and 86400")
        for url in self.stun_url_list:
            if not url.startswith(("stun:", "stuns:")) or any(c.isspace() for c in url):
                raise ConfigError("KAARI_STUN_URLS must be stun:host:port URLs, comma-separated")
        if self.precall_max_peers < 0:
            raise ConfigError("KAARI_PRECALL_MAX_PEERS must be 0 (off) or more")
        if not (0 < self.precall_timeout_seconds <= 600):
            raise ConfigError("KAARI_PRECALL_TIMEOUT_SECONDS must be between 0 and 600")
        if not (60 <= self.precall_pass_ttl_seconds <= 86_400):
            raise ConfigError("KAARI_PRECALL_PASS_TTL_SECONDS must be between 60 and 86400")
        for address in self.precall_host_address_list:
            try:
                ipaddress.ip_address(address)
            except ValueError:
                raise ConfigError(
                    "KAARI_PRECALL_HOST_ADDRESSES must be IP addresses, comma-separated"
                ) from None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Build settings from ``KAARI_*`` variables; ``overrides`` win (CLI options)."""
        env = os.environ if environ is None else environ
        raw: dict[str, object] = {}
        for field in msgspec.structs.fields(cls):
            value = env.get(f"KAARI_{field.name.upper()}")
            if value is not None:
                raw[field.name] = value
        raw.update({k: v for k, v in overrides.items() if v is not None})
        try:
            settings = msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError as exc:
            message, _, path = str(exc).partition(" - at `$.")
            name = f"KAARI_{path.rstrip('`').upper()}" if path else "a setting"
            raise ConfigError(f"invalid setting {name}: {message}") from None
        return settings.check()
