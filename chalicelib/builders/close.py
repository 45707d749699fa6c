"""The close function: stop the builder when its agent reports the end of a run.

Stops only when the named instance is a configured, tagged pool builder AND nothing waits for it:
no request waiting or delayed, and none in flight unless another pool builder runs (then that one
holds them). A request that arrived meanwhile is still built by the running agent instead of being
stranded on a stopped machine. With one builder: stopped only on an empty queue, as before the pool.

An end of run that says its agent exited (crashed; the unit does not restart it) stops the builder
whatever the queue holds: no agent would serve it, so a running machine would only cost money and
hide the work. The dead agent's in-flight requests return after their visibility timeout, and the
reconcile starts the stopped builder for them.
"""

from __future__ import annotations

import logging

from chalicelib.builders.build_queue import BuildQueue
from chalicelib.builders.pool import BuilderPool, plan_close, pool_name
from chalicelib.contracts import Alert, BuildResult, ContractError, EndOfRun, parse_close_message
from chalicelib.notify.cloudwatch_alarm import parse_alarm

log = logging.getLogger(__name__)


class CloseHandler:
    def __init__(self, pool: BuilderPool, queue: BuildQueue) -> None:
        self._pool = pool
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
        return self._stop(parsed)

    def _stop(self, end: EndOfRun) -> str:
        pool = self._pool.instance_ids
        named = end.builder_instance_id or (pool[0] if len(pool) == 1 else None)
        if named is None:  # the seed's plain "stop" names no builder: with several, which one is unknown
            log.error("close: end of run names no builder and the pool has %d (%s); none stopped",
                      len(pool), ", ".join(pool))
            return "refused"
        if named not in pool:
            log.error("close: end of run names %s, not %s; not stopped", named, pool_name(pool))
            return "refused"
        instances = self._pool.describe()
        verdict, why = plan_close(instances, pool, self._pool.tag, named, end.agent_exited, self._queue.depth)
        instance = next(i for i in instances if i.instance_id == named)
        if verdict == "refused":
            log.error("close: refusing to stop: %s", why)
        elif verdict == "already-stopped":
            log.info("close: builder %s already %s", named, instance.state)
        elif verdict == "queue-not-empty":
            log.info("close: %s; builder %s left running to serve it", why, named)
        elif verdict == "stopped-agent-exited":
            self._pool.stop(instance)
            log.info("close: stopped builder %s (was %s) whatever the queue holds: agent exited (%s); in-flight "
                     "requests return after their visibility timeout and the reconcile starts the builder again",
                     named, instance.state, end.reason)
        else:
            self._pool.stop(instance)
            log.info("close: stopped builder %s (was %s, %s)", named, instance.state, why)
        return verdict
