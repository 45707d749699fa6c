"""What app.py calls: the handler's answer, and 500 or 503 with a generic body for everything that is not the
caller's fault (a missing setting, a denied AWS call, a bug), logged with what went wrong."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from chalicelib.errors import RetryableError, SettingsError

if TYPE_CHECKING:
    from chalicelib.webhooks.handler import WebhookHandler

log = logging.getLogger(__name__)

INTERNAL_ERROR = 500, {"result": "error", "reason": "internal error"}
UNAVAILABLE = 503, {"result": "unavailable", "reason": "try again later"}


def answer(build: Callable[[], WebhookHandler], provider: str, headers: Mapping[str, str],
           body: bytes | str | None) -> tuple[int, dict[str, Any]]:
    """``build()`` makes the handler (reading the stage settings); ``body`` is the request's raw body."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else (body or b"")
    try:
        return build().handle(provider, headers, raw)
    except SettingsError as exc:
        log.error("webhooks: %s delivery answered 500: %s", provider, exc)
        return INTERNAL_ERROR
    except RetryableError as exc:
        log.error("webhooks: %s delivery answered 503: %s", provider, exc)
        return UNAVAILABLE
    except Exception:
        log.exception("webhooks: %s delivery answered 500", provider)
        return INTERNAL_ERROR
