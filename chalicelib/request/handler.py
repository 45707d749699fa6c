"""The request function: CodeCommit push -> one build request per matching branch reference."""

from __future__ import annotations

import logging
from typing import Any

from chalicelib.contracts import BuildRequest
from chalicelib.errors import RejectedInputError, RetryableError
from chalicelib.request.branch_filter import BranchFilter
from chalicelib.request.push_events import Pushes, PushEventError, read_state_change_event, read_trigger_event
from chalicelib.request.topic import RequestTopic

log = logging.getLogger(__name__)


class RequestHandler:
    def __init__(self, branch_filter: BranchFilter, topic: RequestTopic) -> None:
        self._filter = branch_filter
        self._topic = topic

    def on_trigger(self, event: Any) -> dict[str, Any]:
        """A repository-trigger event; malformed input is logged and dropped (a retry cannot fix it)."""
        try:
            return self._publish(read_trigger_event(event), "trigger")
        except PushEventError as exc:
            log.error("request: malformed CodeCommit trigger event, nothing published: %s", exc)
            return {"published": [], "malformed": str(exc)}

    def on_state_change(self, event: Any) -> dict[str, Any]:
        try:
            return self._publish(read_state_change_event(event), "state change")
        except PushEventError as exc:
            log.error("request: malformed CodeCommit state-change event, nothing published: %s", exc)
            return {"published": [], "malformed": str(exc)}

    def _publish(self, pushes: Pushes, kind: str) -> dict[str, Any]:
        """Each reference is published on its own: one that SNS refuses is logged and the others still go;
        a transient failure is raised (retryable) only after every other reference was tried, and the
        retry's duplicates of those are harmless because the agent coalesces requests per pipeline."""
        for skipped in pushes.skipped:
            level = logging.ERROR if skipped.malformed else logging.INFO
            log.log(level, "request: %s %s not built: %s", kind, skipped.where, skipped.reason)
        published, refused, transient = [], [], []
        for request in pushes.requests:
            short = (request.commit or "")[:12]
            if not self._filter.matches(request.repository or "", request.branch or ""):
                log.info("request: %s at %s does not match BRANCH_FILTER; not built", request.pipeline, short)
                continue
            try:
                message_id = self._topic.publish(request)
            except RejectedInputError as exc:
                log.error("request: SNS refused the build request for %s at %s (event %s); not built, other "
                          "references still published: %s", request.pipeline, short, request.event_id, exc)
                refused.append(_key(request))
                continue
            except RetryableError as exc:
                log.warning("request: %s (after the other references are tried)", exc)
                transient.append((_key(request), exc))
                continue
            log.info("request: published build request for %s at %s (event %s, message %s)",
                     request.pipeline, short, request.event_id, message_id)
            published.append(_key(request))
        if transient:
            keys = ", ".join(key for key, _ in transient)
            raise RetryableError(f"{transient[0][1]} (not published: {keys}; published: {len(published)})")
        return {"published": published, "refused": refused, "skipped": [s.where for s in pushes.skipped]}


def _key(request: BuildRequest) -> str:
    return f"{request.pipeline}@{request.commit}"
