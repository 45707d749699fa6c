"""The dashboard's bearer token: one SSM SecureString, named by the stage setting DASHBOARD_TOKEN_PARAMETER.

A browser cannot sign requests with SigV4, so the read routes (GET /builds, /builds/{id}, /status) take
``Authorization: Bearer <token>`` in deployed stages, checked by the Chalice authorizer in app.py.

The value is kept for the container's life, so a warm authorizer answers without calling SSM, but:
- after a token that does not match, the parameter is read again (a rotated token works without a redeploy),
  at most once per ``reread_seconds``: a stream of wrong tokens costs one SSM read per interval, not one each;
- a value older than ``max_age_seconds`` is read again even when tokens keep matching, so rotating the
  parameter also revokes the old token in warm containers, within that age.
Tokens are compared in constant time (hmac.compare_digest) and never logged; messages name the parameter.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable
from typing import Any, Optional

from botocore.exceptions import ClientError

from chalicelib.aws_errors import AWS_EXCEPTIONS, classify

log = logging.getLogger(__name__)

REREAD_SECONDS = 10.0
MAX_AGE_SECONDS = 300.0
SCHEME = "bearer"


def presented_token(header: Optional[str]) -> Optional[str]:
    """The token of an ``Authorization: Bearer <token>`` header (None: no header, another scheme, or empty)."""
    scheme, _, token = (header or "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == SCHEME and token else None


class DashboardToken:
    def __init__(self, ssm: Any, parameter: str, clock: Callable[[], float] = time.monotonic,
                 reread_seconds: float = REREAD_SECONDS, max_age_seconds: float = MAX_AGE_SECONDS) -> None:
        self._ssm = ssm
        self.parameter = parameter
        self._clock = clock
        self.reread_seconds = reread_seconds
        self.max_age_seconds = max_age_seconds
        self._value: Optional[bytes] = None
        self._read_at: Optional[float] = None

    def allows(self, header: Optional[str]) -> bool:
        """True when ``header`` carries the current token. Raises (classified AWS error) only when SSM cannot
        be read and no earlier value is at hand: a server problem must not look like a wrong token."""
        token = presented_token(header)
        if token is None:
            return False
        if self._read_at is None or self._age() >= self.max_age_seconds:
            self._refresh()
        if self._matches(token):
            return True
        if self._age() < self.reread_seconds:
            return False
        self._refresh()
        return self._matches(token)

    def _age(self) -> float:
        return float("inf") if self._read_at is None else self._clock() - self._read_at

    def _matches(self, token: str) -> bool:
        return self._value is not None and hmac.compare_digest(self._value, token.encode())

    def _refresh(self) -> None:
        """Read the parameter; when that fails and a value is cached, keep serving it (logged)."""
        had = self._read_at is not None
        try:
            self._read()
        except AWS_EXCEPTIONS as exc:
            if not had:
                self._read_at = None  # nothing to serve: the next call tries again (and answers 500 meanwhile)
                raise classify(exc, f"reading SSM parameter {self.parameter}") from exc
            log.warning("dashboard: re-reading %s failed (%s); the cached token stays in use", self.parameter,
                        type(exc).__name__)

    def _read(self) -> None:
        self._read_at = self._clock()  # set first: a failing read is not retried at once either
        try:
            parameter = self._ssm.get_parameter(Name=self.parameter, WithDecryption=True)["Parameter"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ParameterNotFound":
                raise
            log.error("dashboard: no SSM parameter %s: every read-route call is refused until it exists "
                      "(docs/dashboard.md)", self.parameter)
            self._value = None
            return
        if parameter.get("Type") != "SecureString":
            log.warning("dashboard: SSM parameter %s is a %s, not a SecureString; the token is a secret",
                        self.parameter, parameter.get("Type"))
        value = (parameter.get("Value") or "").strip()
        self._value = value.encode() if value else None
        log.info("dashboard: read the token parameter %s", self.parameter)
