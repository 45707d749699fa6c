"""The webhook secrets: one SSM SecureString per provider, ``<WEBHOOK_SECRET_PREFIX>/<provider>``.

Read when a delivery first needs one and kept for the container's life (a warm container answers without
calling SSM). After a failed verification the secret is read again, so a rotated secret works without a
redeploy, but at most once per ``refresh_seconds`` per provider: a stream of forged signatures costs one
SSM read per interval, not one per request. Values are never logged; messages name the parameter.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Optional

from botocore.exceptions import ClientError

from chalicelib.aws_errors import AWS_EXCEPTIONS, classify

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient
else:
    SSMClient = Any

log = logging.getLogger(__name__)

REFRESH_SECONDS = 10.0


class SecretStore:
    def __init__(self, ssm: SSMClient, prefix: str, clock: Callable[[], float] = time.monotonic,
                 refresh_seconds: float = REFRESH_SECONDS) -> None:
        self._ssm = ssm
        self.prefix = prefix.rstrip("/")
        self._clock = clock
        self.refresh_seconds = refresh_seconds
        self._values: dict[str, Optional[str]] = {}
        self._read_at: dict[str, float] = {}

    def parameter(self, provider: str) -> str:
        return f"{self.prefix}/{provider}"

    def current(self, provider: str) -> Optional[str]:
        """The provider's secret (None: no such parameter, so nothing verifies)."""
        if provider not in self._values:
            self._read(provider)
        return self._values[provider]

    def reread(self, provider: str) -> bool:
        """After a verification failed: read the parameter again unless it was read within the refresh
        interval. True when the value changed (the caller verifies again)."""
        last = self._read_at.get(provider)
        if last is not None and self._clock() - last < self.refresh_seconds:
            return False
        before = self._values.get(provider)
        self._read(provider)
        changed = self._values[provider] != before
        log.info("webhooks: re-read %s after a failed verification (%s)", self.parameter(provider),
                 "changed" if changed else "unchanged")
        return changed

    def _read(self, provider: str) -> None:
        name = self.parameter(provider)
        self._read_at[provider] = self._clock()  # set first: a failing read is not retried at once either
        try:
            parameter = self._ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ParameterNotFound":
                raise classify(exc, f"reading SSM parameter {name}") from exc
            log.error("webhooks: no SSM parameter %s: every %s delivery is refused (401) until it exists",
                      name, provider)
            self._values[provider] = None
            return
        except AWS_EXCEPTIONS as exc:
            raise classify(exc, f"reading SSM parameter {name}") from exc
        if parameter.get("Type") != "SecureString":
            log.warning("webhooks: SSM parameter %s is a %s, not a SecureString; a webhook secret is a secret",
                        name, parameter.get("Type"))
        self._values[provider] = parameter.get("Value") or None
