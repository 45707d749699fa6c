"""Post a message to the Slack incoming webhook, sorting failures into retry or give up.

Errors raised here deliberately drop the requests exception (``from None``): its text quotes
the request URL, and the URL is the secret. The exception's type name is kept instead.
"""

from __future__ import annotations

import logging
from typing import Any

import requests

from chalicelib.errors import RetryableError
from chalicelib.notify.webhook_secret import WebhookSecret

log = logging.getLogger(__name__)


class SlackWebhook:
    def __init__(self, secret: WebhookSecret, timeout_seconds: float) -> None:
        self._secret = secret
        self._timeout = timeout_seconds

    def post(self, payload: dict[str, Any]) -> bool:
        """True when Slack accepted it; False for a 4xx that a retry cannot fix (logged)."""
        url = self._secret.url()
        try:
            response = requests.post(url, json=payload, timeout=self._timeout)
        except requests.Timeout:
            raise RetryableError(f"Slack webhook did not answer within {self._timeout:g}s; Lambda will retry") from None
        except requests.RequestException as exc:
            raise RetryableError(f"Slack webhook unreachable ({type(exc).__name__}); Lambda will retry") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise RetryableError(f"Slack webhook answered {response.status_code}; Lambda will retry")
        if response.status_code >= 400:
            self._secret.forget()
            log.error("notify: Slack refused the message with %s %r (webhook in SSM %s); not retried",
                      response.status_code, response.text[:200], self._secret.parameter_name)
            return False
        return True
