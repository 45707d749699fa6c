"""Step logger: one line per step, with the time since the command started and the step's own
duration, plus the identifiers a person needs (pipeline, commit, image, revision).

Step lines go to the console (the journal on the builder) and to every extra sink, such as the
build's CloudWatch Logs stream; tool output (docker, git) goes only to the detail sinks, so the
console stays readable while the build log keeps everything.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from chalicelib.contracts import StepTiming, utc_now

Sink = Callable[[str], None]


def _stdout(line: str) -> None:
    print(line, file=sys.stdout, flush=True)


# ``[   4.2s 2026-11-29T23:04:05.123Z] text``: the UTC wall time is there when the lines are read next to other
# parts' records (the builder's journal and build log against Lambda's and SNS's times, the rig's timeline)
_STAMPED = re.compile(r"^\[\s*\d+(?:\.\d+)?s (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})Z\] (.*)$")


def utc_stamp(epoch: float) -> str:
    """Milliseconds, always three digits, so stamps sort as text and parse back exactly."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def read_stamp(line: str) -> tuple[float | None, str]:
    """(UTC epoch, text) of a step line written with a wall clock; (None, line) for any other line."""
    match = _STAMPED.match(line)
    if match is None:
        return None, line
    moment = datetime.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)
    return moment.timestamp(), match.group(2)


class Progress:
    """``with progress.step("fetch", pipeline=p) as ids: ...; ids["commit"] = sha`` prints one line.

    ``wall`` (e.g. ``time.time``) adds the UTC time to each line: the builder's commands use it, because
    their lines are read beside other services' timestamped records; a person's deploy command does not."""

    def __init__(self, out: Sink = _stdout, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] | None = None) -> None:
        self.clock = clock
        self.wall = wall
        self.started = clock()
        self.sinks: list[Sink] = [out]
        self.detail_sinks: list[Sink] = []
        self.after_step: list[Callable[[str], None]] = []
        self.timings: list[tuple[str, float]] = []  # (step, seconds) of finished steps, for benchmarks
        self.recording: list[StepTiming] | None = None  # the current build's steps, while one records

    def elapsed(self) -> float:
        return self.clock() - self.started

    def line(self, text: str) -> None:
        """A step-level line: console and every sink."""
        when = f" {utc_stamp(self.wall())}" if self.wall is not None else ""
        stamped = f"[{self.elapsed():7.1f}s{when}] {text}"
        for sink in list(self.sinks):
            sink(stamped)

    def detail(self, text: str) -> None:
        """Tool output: build log only."""
        for sink in list(self.detail_sinks):
            sink(text)

    @contextmanager
    def recording_steps(self) -> Iterator[list[StepTiming]]:
        """Collect the StepTiming of every step inside the block (a build's result carries them for history);
        a fresh list per build, so an agent serving for days holds no more than one build's steps."""
        self.recording = steps = []
        try:
            yield steps
        finally:
            self.recording = None

    @contextmanager
    def timed(self, name: str) -> Iterator[None]:
        """Record a step's timing without a console line (the deploy's register/update/wait already log their
        own lines); ``ok`` is False when the block raised. Costs a clock read and a list append."""
        began, started_at = self.clock(), utc_now()
        ok = False
        try:
            yield
            ok = True
        finally:
            if self.recording is not None:
                self.recording.append(StepTiming(name, started_at, round(self.clock() - began, 3), ok))

    @contextmanager
    def step(self, name: str, **ids: Any) -> Iterator[dict[str, Any]]:
        """Time a step; the yielded dict takes identifiers learnt during the step."""
        fields: dict[str, Any] = dict(ids)
        began = self.clock()
        try:
            with self.timed(name):
                yield fields
        except BaseException as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            head = " ".join(filter(None, [f"{name} FAILED ({self.clock() - began:.1f}s)", _ids(fields)]))
            self.line(f"{head}: {reason}")
            raise
        took = self.clock() - began
        self.timings.append((name, took))
        self.line(f"{name} ok ({took:.1f}s) {_ids(fields)}".rstrip())
        for listener in list(self.after_step):
            listener(name)


def _ids(fields: dict[str, Any]) -> str:
    return " ".join(f"{key}={value}" for key, value in fields.items() if value not in (None, ""))
