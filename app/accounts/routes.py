"""HTTP routes for sign-in, the signed-in user, devices, invites and the organisation."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, delete, get, patch, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from app.accounts.invites import InviteService
from app.accounts.orgs import OrgOut, OrgService, PolicyUpdate
from app.accounts.pairing import PairingService
from app.accounts.schemas import (
    AcceptInvite,
    CaseInviteRequest,
    DeviceOut,
    InviteInfo,
    InviteOut,
    LoginRequest,
    OrgInviteRequest,
    OrgUserOut,
    PairingCodeOut,
    PairRequest,
    PasswordChange,
    ProfileUpdate,
    RedeemInvite,
    RedeemOut,
    SessionOut,
    UserOut,
)
from app.accounts.service import AccountService
from app.audit.schemas import AuditPage
from app.audit.service import list_events
from app.core.principal import Principal
from app.core.wire import INT64_MAX
from app.quotas import quota
from app.runtime import Runtime

PUBLIC = {"exclude_from_auth": True}


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @post("/login", opt=PUBLIC, status_code=200)
    async def login(
        self,
        data: JSONBody[LoginRequest],
        accounts: NamedDependency[AccountService],
        address: NamedDependency[str],
    ) -> SessionOut:
        """Sign in with e-mail and password; creates a device session (token shown once)."""
        return await accounts.login(data, address)

    @post("/pair", opt=PUBLIC, status_code=200)
    async def pair(
        self,
        data: JSONBody[PairRequest],
        pairing: NamedDependency[PairingService],
        address: NamedDependency[str],
    ) -> SessionOut:
        """A child's device signs in with the short code shown on a guardian's device."""
        return await pairing.pair(data, address)

    @post("/logout", status_code=204)
    async def logout(
        self,
        principal: NamedDependency[Principal],
        accounts: NamedDependency[AccountService],
        address: NamedDependency[str],
    ) -> None:
        """End this device's session."""
        await accounts.revoke_device(principal, principal.device_id, address)


class MeController(Controller):
    path = "/me"
    tags = ["me"]

    @get()
    async def me(
        self, principal: NamedDependency[Principal], accounts: NamedDependency[AccountService]
    ) -> UserOut:
        return await accounts.me(principal)

    @patch()
    async def update(
        self,
        data: JSONBody[ProfileUpdate],
        principal: NamedDependency[Principal],
        accounts: NamedDependency[AccountService],
    ) -> UserOut:
        """Change the display name or the language (fi, sv, en)."""
        return await accounts.update_profile(principal, data)

    @post("/password", status_code=200)
    async def change_password(
        self,
        data: JSONBody[PasswordChange],
        principal: NamedDependency[Principal],
        accounts: NamedDependency[AccountService],
        address: NamedDependency[str],
    ) -> dict[str, int]:
        """Change the password; every other device is signed out."""
        return {"revokedDevices": await accounts.change_password(principal, data, address)}


class DeviceController(Controller):
    path = "/devices"
    tags = ["devices"]

    @get()
    async def list_devices(
        self, principal: NamedDependency[Principal], accounts: NamedDependency[AccountService]
    ) -> list[DeviceOut]:
        return await accounts.list_devices(principal)

    @delete("/{device_id:uuid}", status_code=204)
    async def revoke(
        self,
        device_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        accounts: NamedDependency[AccountService],
        address: NamedDependency[str],
    ) -> None:
        """Sign out one of my devices (a lost phone)."""
        await accounts.revoke_device(principal, device_id, address)

    @post("/revoke-all", status_code=200)
    async def revoke_all(
        self,
        principal: NamedDependency[Principal],
        accounts: NamedDependency[AccountService],
        address: NamedDependency[str],
        keep_current: Annotated[bool, QueryParameter(name="keepCurrent")] = False,
    ) -> dict[str, int]:
        """Sign out every device (optionally all but this one)."""
        count = await accounts.revoke_all(principal, address, keep_current=keep_current)
        return {"revokedDevices": count}


class InviteController(Controller):
    path = "/invites"
    tags = ["invites"]

    @post("/accept", opt=PUBLIC, status_code=201)
    async def accept(
        self,
        data: JSONBody[AcceptInvite],
        invites: NamedDependency[InviteService],
        address: NamedDependency[str],
    ) -> SessionOut:
        """Create an account from an invite code and sign in the first device."""
        return await invites.accept(data, address)

    @post("/redeem", status_code=200)
    async def redeem(
        self,
        data: JSONBody[RedeemInvite],
        principal: NamedDependency[Principal],
        invites: NamedDependency[InviteService],
        address: NamedDependency[str],
    ) -> RedeemOut:
        """Join another case with the account I already have (siblings)."""
        return await invites.redeem(principal, data, address)


class OrgController(Controller):
    path = "/org"
    tags = ["organisation"]

    @get()
    async def get_org(
        self, principal: NamedDependency[Principal], orgs: NamedDependency[OrgService]
    ) -> OrgOut:
        return await orgs.get_org(principal)

    @patch("/policy")
    async def update_policy(
        self,
        data: JSONBody[PolicyUpdate],
        principal: NamedDependency[Principal],
        orgs: NamedDependency[OrgService],
        address: NamedDependency[str],
    ) -> OrgOut:
        """The cancellation policy: late window and what counts against a period, per payer."""
        return await orgs.update_policy(principal, data, address)

    @get("/users")
    async def users(
        self, principal: NamedDependency[Principal], orgs: NamedDependency[OrgService]
    ) -> list[OrgUserOut]:
        return await orgs.list_users(principal)

    @post("/users/{user_id:uuid}/disable", status_code=204)
    async def disable_user(
        self,
        user_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        orgs: NamedDependency[OrgService],
        address: NamedDependency[str],
    ) -> None:
        await orgs.disable_user(principal, user_id, address)

    @post("/users/{user_id:uuid}/enable", status_code=204)
    async def enable_user(
        self,
        user_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        orgs: NamedDependency[OrgService],
        address: NamedDependency[str],
    ) -> None:
        """Re-enable a disabled staff account (audited)."""
        await orgs.enable_user(principal, user_id, address)

    @post("/invites", status_code=201, opt=quota("invite_create"))
    async def invite_staff(
        self,
        data: JSONBody[OrgInviteRequest],
        principal: NamedDependency[Principal],
        invites: NamedDependency[InviteService],
        address: NamedDependency[str],
    ) -> InviteOut:
        """Invite a therapist (or another admin) into the organisation."""
        return await invites.create_org_invite(principal, data, address)

    @get("/audit")
    async def audit(
        self,
        principal: NamedDependency[Principal],
        orgs: NamedDependency[OrgService],
        runtime: NamedDependency[Runtime],
        before: Annotated[int | None, QueryParameter(name="before", ge=1, le=INT64_MAX)] = None,
        limit: Annotated[int, QueryParameter(name="limit", ge=1, le=200)] = 50,
    ) -> AuditPage:
        """Security-relevant actions in the organisation, newest first (no content)."""
        await orgs.get_org(principal)  # admin only
        events = await list_events(runtime.db, principal.org_id, before, limit)
        next_before = events[-1].id if len(events) == limit else None
        return AuditPage(events=events, next_before=next_before)


class CaseAccessController(Controller):
    """Invites to a case and the child's pairing codes: accounts' rules at the case's
    paths."""

    path = "/cases"
    tags = ["cases"]

    @post("/{case_id:uuid}/invites", status_code=201, opt=quota("invite_create"))
    async def invite(
        self,
        case_id: FromPath[UUID],
        data: JSONBody[CaseInviteRequest],
        principal: NamedDependency[Principal],
        invites: NamedDependency[InviteService],
        address: NamedDependency[str],
    ) -> InviteOut:
        """A therapist invites a guardian; a guardian invites a caregiver with scopes."""
        return await invites.create_case_invite(principal, case_id, data, address)

    @get("/{case_id:uuid}/invites")
    async def pending_invites(
        self,
        case_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        invites: NamedDependency[InviteService],
    ) -> list[InviteInfo]:
        return await invites.list_case_invites(principal, case_id)

    @delete("/{case_id:uuid}/invites/{invite_id:uuid}", status_code=204)
    async def revoke_invite(
        self,
        case_id: FromPath[UUID],
        invite_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        invites: NamedDependency[InviteService],
        address: NamedDependency[str],
    ) -> None:
        await invites.revoke_case_invite(principal, case_id, invite_id, address)

    @post("/{case_id:uuid}/pairing-codes", status_code=201, opt=quota("invite_create"))
    async def pairing_code(
        self,
        case_id: FromPath[UUID],
        principal: NamedDependency[Principal],
        pairing: NamedDependency[PairingService],
        address: NamedDependency[str],
    ) -> PairingCodeOut:
        """A guardian's device shows this short code; the child's device pairs with it."""
        return await pairing.create_code(principal, case_id, address)
