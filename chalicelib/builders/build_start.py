"""The build_start function: build requests arrived, so enough builders must be (or become) running.

Queueing and starting are separate on purpose (the seed's design): the requests themselves wait in
the build queue, this function only makes sure builders are up to serve them. With a pool, one
builder per waiting pipeline (message group) that no builder serves yet, never more than the pool
(chalicelib/builders/pool.py); with one builder, exactly the verdicts of before the pool.

Two ways in: the wake queue (a standard SQS queue subscribed to the FIFO request topic; a batch of
SNS envelopes, docs/builder-pool.md) and, for an install whose request topic is still standard,
the topic itself (one message per invocation).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from chalicelib.builders.pool import BuilderPool, plan_start
from chalicelib.contracts import BuildRequest, ContractError, parse_build_request, unwrap_sns_envelope
from chalicelib.errors import RetryableError
from chalicelib.fifo import message_group_id

log = logging.getLogger(__name__)


class BuildStartHandler:
    def __init__(self, pool: BuilderPool, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._pool = pool
        self._clock = clock

    def handle(self, message: str) -> str:
        """One request from the request topic (SNS). Returns what happened; raises RetryableError when a
        builder that is needed is still stopping."""
        return self.handle_batch([message], envelope=False)

    def handle_batch(self, bodies: Iterable[str], envelope: bool = True) -> str:
        """A batch from the wake queue: each body an SNS envelope of a request. A malformed record is logged
        and skipped (a retry would not fix it, and failing the batch would hold back the others)."""
        requests = []
        for index, body in enumerate(bodies):
            try:
                requests.append(parse_build_request(unwrap_sns_envelope(body) if envelope else body))
            except (ContractError, RecursionError) as exc:
                log.error("build_start: malformed build request, builder not started: %s%s", exc,
                          f" (wake record {index})" if envelope else "")
        if not requests:
            return "malformed"
        return self._start_for(requests)

    def _start_for(self, requests: list[BuildRequest]) -> str:
        groups = {message_group_id(r): r for r in requests}
        what = _what(requests)
        instances = self._pool.describe()
        plan = plan_start(instances, self._pool.instance_ids, self._pool.tag, groups)
        if plan.verdict == "refused":
            log.error("build_start: refusing to start: %s (request for %s)", plan.why, what)
            return "refused"
        by_id = {i.instance_id: i for i in instances}
        for instance_id, group in zip(plan.start, plan.claims, strict=True):
            self._pool.claim(by_id[instance_id], group, self._clock())
            self._pool.start(by_id[instance_id])
            log.info("build_start: started builder %s for %s at %s (%s)", instance_id, what,
                     _commits(requests), plan.why)
        if plan.retry:
            raise RetryableError(f"{plan.why}; the retry will start it for {what} once it has stopped")
        if plan.verdict == "already-running":
            log.info("build_start: %s; it will take %s from the queue", plan.why, what)
        return plan.verdict


def _what(requests: list[BuildRequest]) -> str:
    names = sorted({r.pipeline or "every configured pipeline (legacy build)" for r in requests})
    return ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")


def _commits(requests: list[BuildRequest]) -> str:
    return ", ".join(sorted({(r.commit or "branch head")[:12] for r in requests})[:5])
