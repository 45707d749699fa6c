"""The sweep function: every few minutes, start a stopped builder that has work waiting.

build_start only runs when a request arrives. A request that arrives just as close stops the builder
(close read an empty queue a moment before) finds the builder still running, so build_start does
nothing, and the machine then stops with the request in the queue. The sweep, every
``settings.SWEEP_EVERY_MINUTES``, is the backstop: a stopped builder and a non-empty queue mean
stranded work, so it starts the builder. Messages in flight on a stopped builder count too: its
agent died mid-build, and they return to the queue when their visibility timeout ends, to be built
by the agent this start brings up.

A scheduled invocation never raises for a builder state: the next sweep comes anyway, so a
``stopping`` builder is only logged (raising would add Lambda retries and an Errors-metric alarm
for a normal moment). Settings and AWS failures still raise, as in every function.
"""

from __future__ import annotations

import logging

from chalicelib.build_queue import BuildQueue
from chalicelib.builder import Builder

log = logging.getLogger(__name__)


class SweepHandler:
    def __init__(self, builder: Builder, queue: BuildQueue) -> None:
        self._builder = builder
        self._queue = queue

    def handle(self) -> str:
        """Returns what happened: started, queue-empty, already-running, stopping or refused."""
        instance = self._builder.describe()
        verdict, why = instance.start_check(self._builder.instance_id, self._builder.tag)
        if verdict == "refused":
            log.error("sweep: refusing to start: %s", why)
            return "refused"
        if verdict == "already-running":
            log.info("sweep: %s; its agent serves the queue", why)
            return "already-running"
        if verdict == "stopping":
            log.info("sweep: %s; the next sweep starts it if work is waiting", why)
            return "stopping"
        depth = self._queue.depth()
        if depth.empty:
            log.info("sweep: %s and the build queue is empty; nothing to do", why)
            return "queue-empty"
        self._builder.start()
        died = " (in-flight messages on a stopped builder: its agent died; they return to the queue)" \
            if depth.in_flight else ""
        log.info("sweep: build queue not empty (%s) while builder %s was stopped: started it%s",
                 depth, instance.instance_id, died)
        return "started"
