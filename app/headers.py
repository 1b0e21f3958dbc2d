"""Security headers on every HTTP answer, added as the answer leaves the app (litestar's
``before_send``, outside every middleware and error handler, so a 401 from the token
check gets them too). A header the route set itself is kept."""

from __future__ import annotations

from typing import Any

from litestar.datastructures import MutableScopeHeaders
from litestar.types import Message, Scope

from app.config import Settings

#: for answers that are not pages (JSON, problem+json, blobs, the calendar): nothing
#: in them may run, load or be framed if a browser ever renders one
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def security_headers(settings: Settings) -> Any:
    hsts = f"max-age={settings.hsts_seconds}; includeSubDomains" if settings.hsts_seconds else None
    production = settings.is_production

    async def before_send(message: Message, scope: Scope) -> None:
        if message["type"] != "http.response.start":
            return
        headers = MutableScopeHeaders.from_message(message)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        # answers carry personal data (and the calendar feed its token in the URL):
        # nothing is for a shared or browser cache unless the route says so
        headers.setdefault("Cache-Control", "no-store")
        if "content-security-policy" not in headers:
            html = (headers.get("content-type") or "").startswith("text/html")
            # a page sets its own policy (the pre-call page, with its nonce); only the
            # development /schema viewer, which loads its script from a CDN, has none
            if not html or production:
                headers["Content-Security-Policy"] = API_CSP
        if hsts and scope.get("scheme") == "https":
            headers["Strict-Transport-Security"] = hsts

    return before_send
