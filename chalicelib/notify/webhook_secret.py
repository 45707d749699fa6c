"""The Slack incoming-webhook URL, kept in SSM Parameter Store as a SecureString.

The URL is a bearer secret (anyone holding it can post), so it lives outside the code and the
stage settings, is fetched once per Lambda container, and is never written to a log or an
error message: messages name the parameter, never its value.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import urlsplit

from chalicelib.aws_errors import AWS_EXCEPTIONS, classify
from chalicelib.errors import SettingsError

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient
else:
    SSMClient = Any

log = logging.getLogger(__name__)


class WebhookSecret:
    def __init__(self, ssm: SSMClient, parameter_name: str) -> None:
        self._ssm = ssm
        self.parameter_name = parameter_name
        self._url: Optional[str] = None

    def url(self) -> str:
        """The decrypted URL; cached so a warm container does not call SSM for every message."""
        if self._url is None:
            self._url = self._fetch()
        return self._url

    def forget(self) -> None:
        """Drop the cached URL (Slack refused it), so a rotated parameter is read next time."""
        self._url = None

    def _fetch(self) -> str:
        try:
            parameter = self._ssm.get_parameter(Name=self.parameter_name, WithDecryption=True)["Parameter"]
        except AWS_EXCEPTIONS as exc:
            raise classify(exc, f"reading SSM parameter {self.parameter_name}") from exc
        if parameter.get("Type") != "SecureString":
            log.warning("notify: SSM parameter %s is a %s, not a SecureString; the webhook URL is a secret",
                        self.parameter_name, parameter.get("Type"))
        value = parameter.get("Value", "").strip()
        parts = urlsplit(value)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise SettingsError([f"invalid SSM parameter {self.parameter_name}: expected a webhook URL "
                                 "(value not shown: it is a secret)"])
        return value
