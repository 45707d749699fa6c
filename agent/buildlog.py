"""The full log of one build (step lines and docker/git output) in its own CloudWatch Logs stream.

The console only shows one line per step; a person reading a failed result follows the stream
named in it to see docker's output. Lines are buffered until the stream name is known (it ends
with the image tag, which needs the commit) and flushed in batches. A logging failure is reported
once and never fails the build: the build result matters more than its log.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.contracts import LogLocation

if TYPE_CHECKING:  # pragma: no cover
    from mypy_boto3_logs import CloudWatchLogsClient
else:
    CloudWatchLogsClient = Any

_FLUSH_EVERY = 500
_MAX_BATCH = 5000
_MAX_BATCH_BYTES = 900_000
_MAX_EVENT_CHARS = 200_000


def stream_name(repository: str, branch: str, tag: str) -> str:
    """``<repo>/<branch>/<timestamp>-<shortsha>``; CloudWatch forbids ':' and '*' in stream names."""
    return f"{repository}/{branch}/{tag}".replace(":", "_").replace("*", "_")


class BuildLog:
    def __init__(self, logs: CloudWatchLogsClient, group: str, region: str | None = None,
                 warn: Callable[[str], None] = print, clock: Callable[[], float] = time.time) -> None:
        self.logs = logs
        self.group = group
        self.region = region
        self.warn = warn
        self.clock = clock
        self.stream: str | None = None
        self._buffer: list[dict[str, Any]] = []
        self._broken = False

    def write(self, line: str) -> None:
        self._buffer.append({"timestamp": int(self.clock() * 1000), "message": line[:_MAX_EVENT_CHARS] or " "})
        if self.stream is not None and len(self._buffer) >= _FLUSH_EVERY:
            self.flush()

    def open(self, stream: str) -> LogLocation:
        """Create the stream (and the group if missing); buffered lines go there on the next flush."""
        self.stream = stream
        self._create("group", self.logs.create_log_group, fatal=False, logGroupName=self.group)
        self._create("stream", self.logs.create_log_stream, logGroupName=self.group, logStreamName=stream)
        return self.location()

    def location(self) -> LogLocation | None:
        if self.stream is None or self._broken:
            return None
        return LogLocation(group=self.group, stream=self.stream, region=self.region)

    def flush(self) -> None:
        if self.stream is None or self._broken or not self._buffer:
            return
        events, self._buffer = self._buffer, []
        for batch in _batches(events):
            try:
                self.logs.put_log_events(logGroupName=self.group, logStreamName=self.stream, logEvents=batch)
            except (BotoCoreError, ClientError) as exc:
                self._fail(f"writing to {self.group}:{self.stream}", exc)
                return

    def _create(self, what: str, fn: Callable[..., Any], fatal: bool = True, **kwargs: Any) -> None:
        """``fatal=False`` for the group: infrastructure usually creates it, and the agent's role may
        lack CreateLogGroup while still allowed to create streams."""
        if self._broken:
            return
        try:
            fn(**kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ResourceAlreadyExistsException":
                self._fail(f"creating log {what} {kwargs}", exc, fatal)
        except BotoCoreError as exc:
            self._fail(f"creating log {what} {kwargs}", exc, fatal)

    def _fail(self, what: str, exc: Exception, fatal: bool = True) -> None:
        self._broken = self._broken or fatal
        consequence = "the build goes on without its log" if fatal else "trying the stream anyway"
        self.warn(f"build log: {what} failed, {consequence}: {exc}")


def _batches(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    batches: list[list[dict[str, Any]]] = [[]]
    size = 0
    for event in events:
        cost = len(event["message"].encode()) + 26
        if batches[-1] and (len(batches[-1]) >= _MAX_BATCH or size + cost > _MAX_BATCH_BYTES):
            batches.append([])
            size = 0
        batches[-1].append(event)
        size += cost
    return [b for b in batches if b]
