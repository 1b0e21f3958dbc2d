"""`kaari serve --demo`: a demo organisation built through the real flows (invites,
sign-in), so a newcomer can try the API at once. Development mode only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from app.accounts.schemas import AcceptInvite, CaseInviteRequest, DeviceInfo, LoginRequest
from app.cases.schemas import CaseCreate, PeriodCreate
from app.core.time import local_date
from app.runtime import Runtime
from app.services import Services

DEMO_PASSWORD = "kaari-demo-password"  # noqa: S105 - printed for the newcomer, dev only
THERAPIST = "terhi@demo.kaari.fi"
GUARDIANS = (("anna@demo.kaari.fi", "Anna Aalto"), ("mikko@demo.kaari.fi", "Mikko Aalto"))
SEED = DeviceInfo(name="demo seed", platform="cli")
LOCAL = "127.0.0.1"


@dataclass(frozen=True, slots=True)
class DemoInfo:
    created: bool
    case_id: UUID | None


async def seed_demo(runtime: Runtime, services: Services) -> DemoInfo:
    if await services.accounts.email_registered(THERAPIST):
        return DemoInfo(created=False, case_id=None)
    orgs, accounts = services.orgs, services.accounts
    cases, invites = services.cases, services.invites
    org_id = await orgs.create_org("Demo Therapy Oy", ["fi", "sv", "en"])
    await orgs.create_user(
        runtime.passwords,
        org_id=org_id,
        email=THERAPIST,
        role="therapist",
        display_name="Terhi Terapeutti",
        password=DEMO_PASSWORD,
    )
    session = await accounts.login(
        LoginRequest(email=THERAPIST, password=DEMO_PASSWORD, device=SEED), LOCAL
    )
    therapist = await accounts.authenticate(session.token)
    assert therapist is not None
    case = await cases.create_case(therapist, CaseCreate(child_display_name="Eino"), LOCAL)
    today = local_date(services.clock())
    await cases.create_period(
        therapist,
        case.id,
        PeriodCreate(
            payer="kela",
            starts_on=today,
            ends_on=today + timedelta(days=364),
            sessions_granted=30,
            decision_ref="KELA-DEMO-1",
        ),
        LOCAL,
    )
    for email, name in GUARDIANS:
        invite = await invites.create_case_invite(
            therapist, case.id, CaseInviteRequest(role="guardian"), LOCAL
        )
        guardian = await invites.accept(
            AcceptInvite(
                code=invite.code,
                email=email,
                password=DEMO_PASSWORD,
                display_name=name,
                device=SEED,
            ),
            LOCAL,
        )
        principal = await accounts.authenticate(guardian.token)
        assert principal is not None
        await accounts.revoke_all(principal, LOCAL, keep_current=False)
    await accounts.revoke_all(therapist, LOCAL, keep_current=False)
    return DemoInfo(created=True, case_id=case.id)


def demo_instructions(base_url: str) -> str:
    return f"""
Kaari demo is ready at {base_url}   (API docs: {base_url}/schema)
  web app: {base_url}/app/   (a guardian's phone view; sign in as {GUARDIANS[0][0]})
  therapist: {THERAPIST}
  guardians: {GUARDIANS[0][0]}, {GUARDIANS[1][0]}
  password (all): {DEMO_PASSWORD}
Sign in:
  curl -s -X POST {base_url}/auth/login -H 'content-type: application/json' \\
    -d '{{"email":"{THERAPIST}","password":"{DEMO_PASSWORD}","device":{{"name":"my laptop"}}}}'
Then send the token:  curl -s {base_url}/cases -H 'authorization: Bearer <token>'
"""
