"""One webhook delivery, checked in an order that does the cheap and safe things first: the size (413), the
signature (401: an unauthenticated caller learns nothing else), the event and the body (202, 400), the filter
(202), the delivery ledger (200 for a replay), and only then publishing. Nothing is published on bad input.

Answers are (status, JSON body); docs/webhooks.md has the table.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import ModuleType
from typing import Any

from chalicelib.errors import RetryableError
from chalicelib.request.branch_filter import BranchFilter
from chalicelib.request.topic import RequestTopic
from chalicelib.webhooks import bitbucket, github, gitlab
from chalicelib.webhooks.delivery import MAX_BODY_BYTES, Malformed, Reading
from chalicelib.webhooks.ledger import DeliveryLedger
from chalicelib.webhooks.plan import Plan, plan
from chalicelib.webhooks.secret_store import SecretStore

log = logging.getLogger(__name__)

PROVIDERS: dict[str, ModuleType] = {module.PROVIDER: module for module in (github, gitlab, bitbucket)}
Answer = tuple[int, dict[str, Any]]


class WebhookHandler:
    def __init__(self, secrets: SecretStore, ledger: DeliveryLedger, topic: RequestTopic,
                 branch_filter: BranchFilter) -> None:
        self._secrets = secrets
        self._ledger = ledger
        self._topic = topic
        self._filter = branch_filter

    def handle(self, provider: str, headers: Mapping[str, str], body: bytes) -> Answer:
        parser = PROVIDERS[provider]
        if len(body) > MAX_BODY_BYTES:
            log.warning("webhooks: %s delivery of %d bytes refused (limit %d)", provider, len(body), MAX_BODY_BYTES)
            return 413, {"result": "too large", "reason": f"body over {MAX_BODY_BYTES} bytes"}
        if not self._authentic(parser, headers, body):
            log.warning("webhooks: %s delivery refused: missing or invalid signature", provider)
            return 401, {"result": "unauthorized", "reason": "missing or invalid signature"}
        try:
            reading = parser.read(headers, body)
            work = plan(reading, provider, self._filter)
        except Malformed as exc:
            log.warning("webhooks: malformed %s delivery, nothing published: %s", provider, exc)
            return 400, {"result": "malformed", "reason": str(exc)}
        if reading.kind != "push":
            log.info("webhooks: %s delivery %s: %s", provider, reading.delivery_id, reading.kind)
            if reading.kind == "ping":
                return 200, {"result": "pong", "delivery": reading.delivery_id}
            return 202, {"result": "ignored", "reason": reading.reason, "delivery": reading.delivery_id}
        return self._push(provider, reading, work)

    def _authentic(self, parser: ModuleType, headers: Mapping[str, str], body: bytes) -> bool:
        """Checked with the cached secret, and once more after a re-read (rotation), which the store limits."""
        provider = parser.PROVIDER
        if parser.authentic(headers, body, self._secrets.current(provider)):
            return True
        return self._secrets.reread(provider) and parser.authentic(headers, body, self._secrets.current(provider))

    def _push(self, provider: str, reading: Reading, work: Plan) -> Answer:
        delivery = reading.delivery_id
        for reason in work.not_built:
            log.info("webhooks: %s delivery %s: %s", provider, delivery, reason)
        if not work.requests:
            return 202, {"result": "not built", "reason": "; ".join(work.not_built) or "no branch pushed",
                         "delivery": delivery}
        key = f"{provider}/{delivery}"
        if not self._ledger.claim(key):
            log.info("webhooks: %s delivery %s seen before: nothing published again", provider, delivery)
            return 200, {"result": "duplicate", "delivery": delivery}
        published = []
        try:
            for request in work.requests:
                message_id = self._topic.publish(request)
                log.info("webhooks: published build request for %s at %s (%s delivery %s, message %s)",
                         request.pipeline, (request.commit or "")[:12], provider, request.event_id, message_id)
                published.append(f"{request.pipeline}@{request.commit}")
        except Exception as exc:
            self._ledger.release(key)
            retry = isinstance(exc, RetryableError)
            log.error("webhooks: %s delivery %s not published (%d of %d went out; the retry republishes them, "
                      "which the agent coalesces): %s", provider, delivery, len(published), len(work.requests), exc)
            if retry:
                return 503, {"result": "unavailable", "reason": "could not publish; retry the delivery"}
            raise
        return 200, {"result": "published", "delivery": delivery, "requests": published,
                     "not_built": list(work.not_built)}
