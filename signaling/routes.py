"""HTTP routes of signalling: ICE servers, the pre-call pass, page and echo peer."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.enums import MediaType
from litestar.params import JSONBody, QueryParameter

from signaling.ice import ice_servers
from signaling.page import choose_lang, content_security_policy, render
from signaling.ports import Principal
from signaling.precall import check_pass, issue_pass, pass_expiry
from signaling.schemas import (
    IceServersOut,
    PrecallAnswer,
    PrecallOffer,
    PrecallPassOut,
    PrecallStart,
)
from signaling.service import Signaling

PUBLIC = {"exclude_from_auth": True}

# Rate limits (per window of 10 minutes unless named otherwise), shared by instances
# through the app's limiter (Redis when configured).
ICE_PER_DEVICE_PER_MINUTE = 60
PASSES_PER_DEVICE = 20
PRECALL_STARTS_PER_USER = 30
PRECALL_OFFERS_PER_USER = 12
WINDOW = 600


def provide_signaling(state: State) -> Signaling:
    signaling = state.signaling
    assert isinstance(signaling, Signaling)
    return signaling


class IceController(Controller):
    path = "/rtc"
    tags = ["calls"]
    dependencies = {"signaling": Provide(provide_signaling, sync_to_thread=False)}

    @get("/ice-servers")
    async def ice_servers(
        self, principal: NamedDependency[Principal], signaling: NamedDependency[Signaling]
    ) -> IceServersOut:
        """STUN and TURN servers for a call, with a short-lived TURN credential for the
        signed-in user (coturn REST scheme). ``relay`` false: no TURN is configured.
        See docs/signaling.md."""
        await signaling.limiter.hit(f"rtc:ice:{principal.device_id}", ICE_PER_DEVICE_PER_MINUTE, 60)
        return ice_servers(signaling.settings, str(principal.user_id), signaling.now())


class PrecallController(Controller):
    path = "/rtc/precall"
    tags = ["calls"]
    dependencies = {"signaling": Provide(provide_signaling, sync_to_thread=False)}

    @post("/pass", status_code=200)
    async def precall_pass(
        self, principal: NamedDependency[Principal], signaling: NamedDependency[Signaling]
    ) -> PrecallPassOut:
        """A short-lived pass for the pre-call page (signed in, any role): open ``url``."""
        await signaling.limiter.hit(
            f"rtc:precall:pass:{principal.device_id}", PASSES_PER_DEVICE, WINDOW
        )
        token, expires = issue_pass(signaling.settings, principal, signaling.now())
        return PrecallPassOut(
            precall_pass=token, expires_at=pass_expiry(expires), url=f"/precall#pass={token}"
        )

    @post("/ice-servers", opt=PUBLIC, status_code=200, security=[])
    async def precall_ice_servers(
        self, data: JSONBody[PrecallStart], signaling: NamedDependency[Signaling]
    ) -> IceServersOut:
        """ICE servers for the pre-call page; authenticated by the pass, not a session."""
        holder = check_pass(signaling.settings, data.precall_pass, signaling.now())
        await signaling.limiter.hit(
            f"rtc:precall:start:{holder.user_id}", PRECALL_STARTS_PER_USER, WINDOW
        )
        return ice_servers(signaling.settings, str(holder.user_id), signaling.now())

    @post("/offer", opt=PUBLIC, status_code=200, security=[])
    async def precall_offer(
        self, data: JSONBody[PrecallOffer], signaling: NamedDependency[Signaling]
    ) -> PrecallAnswer:
        """The page's SDP offer; the answer comes from the server's echo peer, which
        sends the caller's audio and video back and answers ``ping`` on a data channel.
        503 ``precall_busy`` (with Retry-After) when the instance runs its maximum."""
        holder = check_pass(signaling.settings, data.precall_pass, signaling.now())
        await signaling.limiter.hit(
            f"rtc:precall:offer:{holder.user_id}", PRECALL_OFFERS_PER_USER, WINDOW
        )
        sdp = await signaling.echoes.answer(holder, data.sdp)
        return PrecallAnswer(
            type="answer", sdp=sdp, timeout_seconds=signaling.settings.precall_timeout_seconds
        )


@get("/precall", opt=PUBLIC, tags=["calls"], include_in_schema=False, sync_to_thread=False)
def precall_page(
    request: Request[Any, Any, Any],
    lang: Annotated[str | None, QueryParameter(name="lang", max_length=8)] = None,
) -> Response[str]:
    """The pre-call test page (public; it works only with a pass in its fragment)."""
    chosen = choose_lang(lang, request.headers.get("accept-language"))
    page, nonce = render(chosen)
    return Response(
        page,
        media_type=MediaType.HTML,
        headers={
            "content-security-policy": content_security_policy(nonce),
            "cache-control": "no-store",
            "referrer-policy": "no-referrer",
            "x-content-type-options": "nosniff",
            "permissions-policy": "camera=(self), microphone=(self)",
            "content-language": chosen,
            "vary": "accept-language",
        },
    )


route_handlers = [IceController, PrecallController]
"""Authenticated controllers, mounted under the app's API router."""
public_handlers = [precall_page]
"""Public handlers mounted at the top level."""
