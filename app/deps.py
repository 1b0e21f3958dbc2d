"""The DI table: what a route may ask for by name, each taken from the instance's
``Runtime`` or its ``Services`` (built once in ``app/services.py``), never built here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from litestar import Request
from litestar.datastructures import State
from litestar.di import Provide

from app.core.principal import Principal
from app.runtime import Runtime
from app.services import Services


def provide_runtime(state: State) -> Runtime:
    runtime = state.runtime
    assert isinstance(runtime, Runtime)
    return runtime


def provide_services(state: State) -> Services:
    services = state.services
    assert isinstance(services, Services)
    return services


def provide_principal(request: Request[Any, Any, Any]) -> Principal:
    user = request.scope.get("user")
    assert isinstance(user, Principal), "route needs authentication"
    return user


def provide_address(request: Request[Any, Any, Any]) -> str:
    return request.client.host if request.client else "unknown"


def _service(name: str) -> Provide:
    def provide(state: State) -> Any:
        return getattr(provide_services(state), name)

    provide.__name__ = f"provide_{name}"
    return Provide(provide, sync_to_thread=False)


SERVICE_NAMES = (
    "accounts",
    "orgs",
    "invites",
    "pairing",
    "cases",
    "access_log",
    "caseload",
    "recovery",
    "handover",
    "key_directory",
    "cross_signing",
    "key_backup",
    "messaging",
    "rooms",
    "to_device",
    "sync",
    "receipts",
    "attachments",
    "appointments",
    "cancellations",
    "notifications",
    "calendar",
    "homework",
    "sick_days",
    "documents",
    "document_requests",
    "tickets",
    "outbox",
    "export",
    "erasure",
)

_base: dict[str, Callable[..., Any]] = {
    "runtime": provide_runtime,
    "services": provide_services,
    "principal": provide_principal,
    "address": provide_address,
}

dependencies: dict[str, Provide] = {
    **{name: Provide(fn, sync_to_thread=False) for name, fn in _base.items()},
    **{name: _service(name) for name in SERVICE_NAMES},
}
