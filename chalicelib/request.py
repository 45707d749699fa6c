"""The request function: CodeCommit push -> one build request per matching branch reference."""

from __future__ import annotations

import logging
from typing import Any

from chalicelib.branch_filter import BranchFilter
from chalicelib.push_events import Pushes, PushEventError, read_state_change_event, read_trigger_event
from chalicelib.request_topic import RequestTopic

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
        for skipped in pushes.skipped:
            level = logging.ERROR if skipped.malformed else logging.INFO
            log.log(level, "request: %s %s not built: %s", kind, skipped.where, skipped.reason)
        published = []
        for request in pushes.requests:
            short = (request.commit or "")[:12]
            if not self._filter.matches(request.repository or "", request.branch or ""):
                log.info("request: %s at %s does not match BRANCH_FILTER; not built", request.pipeline, short)
                continue
            message_id = self._topic.publish(request)
            log.info("request: published build request for %s at %s (event %s, message %s)",
                     request.pipeline, short, request.event_id, message_id)
            published.append(f"{request.pipeline}@{request.commit}")
        return {"published": published, "skipped": [s.where for s in pushes.skipped]}
