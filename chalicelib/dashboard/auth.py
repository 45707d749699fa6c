"""The answer of the read routes' authorizer (app.py ``dashboard_auth``) in deployed stages.

API Gateway caches an authorizer's answer per token for its TTL and applies it to every route that uses the
authorizer, so an allowed token gets one policy naming all the read routes, not only the one asked for.
"""

from __future__ import annotations

import logging
from typing import Optional

from chalice.app import AuthResponse, AuthRoute

from chalicelib.dashboard.token import DashboardToken, presented_token

log = logging.getLogger(__name__)

# The routes registered with READ_AUTHORIZER in app.py (tests/test_dashboard_auth.py keeps the two in step).
READ_ROUTES = ("/builds", "/builds/*", "/status")
PRINCIPAL = "dashboard"


def authorize(token: DashboardToken, header: Optional[str]) -> AuthResponse:
    """Allow GET on the read routes for the current token; an empty policy (API Gateway answers 403) otherwise."""
    if token.allows(header):
        return AuthResponse(routes=[AuthRoute(path, ["GET"]) for path in READ_ROUTES], principal_id=PRINCIPAL)
    why = "no bearer token" if presented_token(header) is None else "a token that does not match"
    log.info("dashboard: refused a read-route call with %s (parameter %s)", why, token.parameter)
    return AuthResponse(routes=[], principal_id=PRINCIPAL)
