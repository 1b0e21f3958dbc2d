"""Bearer-token authentication for every route not marked ``exclude_from_auth``."""

from __future__ import annotations

from litestar.connection import ASGIConnection
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from app.accounts.service import AccountService
from app.core.errors import Unauthenticated

MAX_TOKEN_LENGTH = 200


class TokenAuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:  # type: ignore[type-arg]
        header = connection.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH:
            raise Unauthenticated("Sign in and send your session token as a Bearer token")
        accounts = connection.app.state.services.accounts
        assert isinstance(accounts, AccountService)
        principal = await accounts.authenticate(token.strip())
        if principal is None:
            raise Unauthenticated("This session has ended; sign in again", code="session_invalid")
        return AuthenticationResult(user=principal, auth=None)
