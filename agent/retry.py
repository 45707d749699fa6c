"""Retry with backoff for the calls the run loop cannot do without (receive, publish EndOfRun).

SQS and SNS have bad minutes (throttling, a network blip, an endpoint restart); botocore's own
retries last seconds. Before a failure counts as fatal, the agent keeps trying for a budget of
minutes (1 s doubling to 60 s), so a passing outage does not stop the builder, while a lasting
one (queue deleted, permission removed) still ends the run with a crash EndOfRun that names it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from agent import AgentError

T = TypeVar("T")

FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 60.0
BUDGET_SECONDS = 300.0


@dataclass(frozen=True)
class Backoff:
    """How long to keep trying; ``sleep`` and ``clock`` are injectable so tests never wait."""

    budget: float = BUDGET_SECONDS
    first: float = FIRST_DELAY_SECONDS
    cap: float = MAX_DELAY_SECONDS
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def call(self, what: str, fn: Callable[[], T], log: Callable[[str], None],
             retry_on: tuple[type[BaseException], ...] = (AgentError,)) -> T:
        """``fn()``, retried on ``retry_on`` until the budget is spent; then the last error is raised."""
        start = self.clock()
        delay = self.first
        attempt = 1
        while True:
            try:
                return fn()
            except retry_on as exc:
                spent = self.clock() - start
                if spent >= self.budget:
                    if attempt > 1:
                        log(f"{what}: giving up after {attempt} attempts in {spent:.0f}s: {exc}")
                    raise
                wait = min(delay, self.cap, max(0.0, self.budget - spent))
                log(f"{what}: attempt {attempt} failed, retrying in {wait:.0f}s "
                    f"(budget {self.budget:.0f}s): {exc}")
                self.sleep(wait)
                delay = min(delay * 2, self.cap)
                attempt += 1
