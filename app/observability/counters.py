"""The process's Prometheus metrics. Every label is a closed vocabulary: an HTTP method,
a route *template*, a status code, a background job's name, a rate limit's name. No
label or value ever holds an id (of a user, a case, a device), a path as requested,
an address or anything from a request body: that is what keeps ``/metrics`` free of
personal data, and ``tests/app/observability`` checks it after a whole scenario.

One process serves one app, so the metrics live in this module's registry (as with any
Prometheus client). Tests that start several apps in one process see their sums.
"""

from __future__ import annotations

import re

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    gc_collector,
    platform_collector,
    process_collector,
)

from app.core.time import unix_seconds

REGISTRY = CollectorRegistry(auto_describe=True)
process_collector.ProcessCollector(registry=REGISTRY)
platform_collector.PlatformCollector(registry=REGISTRY)
gc_collector.GCCollector(registry=REGISTRY)

#: methods kept as they are; anything else is counted as "other" (no unbounded labels)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter(
    "kaari_http_requests",
    "HTTP requests answered, by method, route template and status",
    ["method", "route", "status"],
    registry=REGISTRY,
)
HTTP_DURATION = Histogram(
    "kaari_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, route template and status",
    ["method", "route", "status"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
LOGIN_FAILURES = Counter(
    "kaari_login_failures",
    "Sign-ins refused for a wrong e-mail, a wrong password or a disabled account",
    registry=REGISTRY,
)
RATE_LIMITED = Counter(
    "kaari_rate_limit_refusals",
    "Requests refused by a rate limit (429), by the limit's name",
    ["limit"],
    registry=REGISTRY,
)
JOB_RUNS = Counter(
    "kaari_background_job_runs",
    "Runs of a periodic background job (purge, reminders, homework nudges)",
    ["job"],
    registry=REGISTRY,
)
JOB_FAILURES = Counter(
    "kaari_background_job_failures",
    "Runs of a periodic background job that raised",
    ["job"],
    registry=REGISTRY,
)
JOB_DURATION = Histogram(
    "kaari_background_job_duration_seconds",
    "Time one run of a periodic background job took",
    ["job"],
    buckets=(0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0),
    registry=REGISTRY,
)
JOB_LAST_SUCCESS = Gauge(
    "kaari_background_job_last_success_timestamp_seconds",
    "Unix time of the last run of a periodic background job that did not raise",
    ["job"],
    registry=REGISTRY,
)

RETAINED_KINDS = frozenset(
    {
        "outbox_rows",
        "homework_tasks",
        "homework_ticks",
        "documents",
        "document_requests",
        "orphan_blobs",
        "part_files",
        "audit_events",
    }
)
"""what the retention jobs delete (the ``kind`` label of ``kaari_retention_deleted``)"""

RETENTION_DELETED = Counter(
    "kaari_retention_deleted",
    "Rows and files the retention jobs deleted, by kind",
    ["kind"],
    registry=REGISTRY,
)

# a limit's name is the two words its key starts with ("login:ip:<address>" ->
# "login:ip"); what follows them (an address, an id, a digest) is never kept
_LIMIT_NAME = re.compile(r"^([a-z]{1,16}:[a-z]{1,16}):")
# a job's name as the app gives it ("kaari-purge")
_JOB_NAME = re.compile(r"^[a-z][a-z0-9-]{0,47}$")


def http_request(method: str, route: str, status: int, seconds: float) -> None:
    """One answered HTTP request; ``route`` must be the matched template (or "unmatched")."""
    method = method if method in METHODS else "other"
    labels = (method, route, str(status))
    HTTP_REQUESTS.labels(*labels).inc()
    HTTP_DURATION.labels(*labels).observe(seconds)


def login_failed() -> None:
    LOGIN_FAILURES.inc()


def rate_limited(key: str) -> None:
    """A refusal under the limit ``key``; only the key's leading name is kept."""
    match = _LIMIT_NAME.match(key)
    RATE_LIMITED.labels(match.group(1) if match else "other").inc()


def job_name(name: str) -> str:
    return name if _JOB_NAME.match(name) else "other"


def job_succeeded(name: str, seconds: float) -> None:
    job = job_name(name)
    JOB_RUNS.labels(job).inc()
    JOB_DURATION.labels(job).observe(seconds)
    # the real time, as Prometheus's time() that an alert compares it with
    JOB_LAST_SUCCESS.labels(job).set(unix_seconds())


def job_failed(name: str, seconds: float) -> None:
    job = job_name(name)
    JOB_RUNS.labels(job).inc()
    JOB_FAILURES.labels(job).inc()
    JOB_DURATION.labels(job).observe(seconds)


def retention_deleted(kind: str, count: int) -> None:
    """``count`` rows or files of ``kind`` (one of ``RETAINED_KINDS``) deleted by a
    retention job."""
    if count > 0:
        RETENTION_DELETED.labels(kind if kind in RETAINED_KINDS else "other").inc(count)
