"""HTTP routes of account recovery: the password reset link and a guardian's view of the
child's devices (app/accounts/recovery.py)."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from app.accounts.recovery import RECOVERY_NOTE, Recovery
from app.accounts.schemas import DeviceOut, ResetAccepted, ResetComplete, ResetDone, ResetRequest
from app.core.principal import Principal

PUBLIC = {"exclude_from_auth": True}

ACCEPTED = ResetAccepted(
    detail="If this address belongs to an account, a link to set a new password is on its "
    "way. It works once, for a short time.",
    recovery="A new password does not restore message history: your recovery key does.",
)


class RecoveryController(Controller):
    path = "/auth/password-reset"
    tags = ["auth"]

    @post(opt=PUBLIC, status_code=202)
    async def request_reset(
        self,
        data: JSONBody[ResetRequest],
        recovery: NamedDependency[Recovery],
        address: NamedDependency[str],
    ) -> Response[ResetAccepted]:
        """Always the same 202, at once, whether or not the address has an account."""
        await recovery.request_reset(data.email, address)
        return Response(ACCEPTED, status_code=202)

    @post("/complete", opt=PUBLIC, status_code=200)
    async def complete(
        self,
        data: JSONBody[ResetComplete],
        recovery: NamedDependency[Recovery],
        address: NamedDependency[str],
    ) -> ResetDone:
        """Set the new password from a link's token; every device is signed out."""
        return await recovery.complete_reset(data, address)


class ChildDeviceController(Controller):
    path = "/cases/{case_id:uuid}/child/devices"
    tags = ["cases"]

    @get()
    async def list_devices(
        self,
        case_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        recovery: NamedDependency[Recovery],
    ) -> list[DeviceOut]:
        """The child's signed-in devices (guardians of the case)."""
        return await recovery.child_devices(principal, case_id)

    @delete("/{device_id:uuid}", status_code=204)
    async def revoke(
        self,
        case_id: FromPath[UUID],
        device_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        recovery: NamedDependency[Recovery],
        address: NamedDependency[str],
    ) -> None:
        """Sign a lost tablet out: it leaves every room of the child's cases."""
        await recovery.revoke_child_device(principal, case_id, device_id, address)


__all__ = ["RECOVERY_NOTE", "ChildDeviceController", "RecoveryController"]
