"""The close function: stop the builder when its agent reports the end of a run.

Stops only when the named instance is the configured, tagged builder AND the build queue is
empty (waiting + in flight + delayed), so a request that arrived meanwhile is still built by the
running agent instead of being stranded on a stopped machine.

An end of run that says its agent exited (crashed; the unit does not restart it) stops the builder
whatever the queue holds: no agent would serve it, so a running machine would only cost money and
hide the work. The dead agent's in-flight requests return after their visibility timeout, and the
reconcile starts the stopped builder for them.
"""

from __future__ import annotations

import logging

from chalicelib.build_queue import BuildQueue
from chalicelib.builder import Builder
from chalicelib.cloudwatch_alarm import parse_alarm
from chalicelib.contracts import Alert, BuildResult, ContractError, EndOfRun, parse_close_message

log = logging.getLogger(__name__)


class CloseHandler:
    def __init__(self, builder: Builder, queue: BuildQueue) -> None:
        self._builder = builder
        self._queue = queue

    def handle(self, message: str) -> str:
        try:
            parsed = parse_close_message(message)
        except ContractError as exc:
            if parse_alarm(message):  # a CloudWatch alarm on the close topic: notify's business
                log.info("close: CloudWatch alarm is not an end of run; builder left as is")
                return "not-end-of-run"
            log.error("close: malformed close message, builder left as is: %s", exc)
            return "malformed"
        if isinstance(parsed, BuildResult):
            log.info("close: build result for %s (%s) is not an end of run; builder left running",
                     parsed.pipeline, parsed.outcome)
            return "not-end-of-run"
        if isinstance(parsed, Alert):
            log.info("close: %s alert is not an end of run; builder left as is", parsed.kind)
            return "not-end-of-run"
        named = parsed.builder_instance_id or self._builder.instance_id
        if named != self._builder.instance_id:
            log.error("close: end of run names %s, not the configured builder %s; not stopped",
                      named, self._builder.instance_id)
            return "refused"
        return self._stop(parsed)

    def _stop(self, end: EndOfRun) -> str:
        instance = self._builder.describe()
        refusal = instance.refusal(self._builder.instance_id, self._builder.tag)
        if refusal:
            log.error("close: refusing to stop: %s", refusal)
            return "refused"
        if instance.state in ("stopping", "stopped"):
            log.info("close: builder %s already %s", instance.instance_id, instance.state)
            return "already-stopped"
        if end.agent_exited:
            self._builder.stop()
            log.info("close: stopped builder %s (was %s) whatever the queue holds: agent exited (%s); in-flight "
                     "requests return after their visibility timeout and the reconcile starts the builder again",
                     instance.instance_id, instance.state, end.reason)
            return "stopped-agent-exited"
        depth = self._queue.depth()
        if not depth.empty:
            log.info("close: build queue not empty (%s); builder %s left running to serve it",
                     depth, instance.instance_id)
            return "queue-not-empty"
        self._builder.stop()
        log.info("close: stopped builder %s (was %s, queue empty)", instance.instance_id, instance.state)
        return "stopped"
