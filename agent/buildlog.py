"""The full log of one build (step lines and docker/git output) in its own CloudWatch Logs stream.

The console only shows one line per step; a person reading a failed result follows the stream
named in it to see docker's output. Lines are buffered until the stream name is known (it ends
with the image tag, which needs the commit), then sent as they come, in batches, so a build that
prints hundreds of megabytes never has more than one batch in memory and a person watching the
stream sees a quiet build's lines within seconds. A logging failure is reported once and never
fails the build: the build result matters more than its log (later lines are then dropped, not held).

PutLogEvents limits (CloudWatch Logs API reference): an event is at most 256 KB counted as its
message in UTF-8 bytes plus 26 bytes; a batch at most 1,048,576 bytes counted the same way and
10,000 events, in chronological order, spanning at most 24 hours. A longer line is split into
events that say so (``[part 2/3 of a 600000-byte line]``), so nothing is lost or refused.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.contracts import LogLocation

if TYPE_CHECKING:  # pragma: no cover
    from mypy_boto3_logs import CloudWatchLogsClient
else:
    CloudWatchLogsClient = Any

EVENT_OVERHEAD_BYTES = 26
MAX_EVENT_BYTES = 256 * 1024
MAX_MESSAGE_BYTES = MAX_EVENT_BYTES - EVENT_OVERHEAD_BYTES
MAX_BATCH_BYTES = 1_048_576
MAX_BATCH_EVENTS = 10_000
MAX_BATCH_SPAN_MS = 24 * 3600 * 1000

FLUSH_BYTES = 512 * 1024  # buffered bytes that trigger a send once the stream is open
FLUSH_EVENTS = 2_000
FLUSH_SECONDS = 5.0
BEFORE_OPEN_BYTES = MAX_BATCH_BYTES  # held while the stream name is not known yet; more is dropped, and counted
_PART_MARKER_ROOM = 64


def stream_name(repository: str, branch: str, tag: str) -> str:
    """``<repo>/<branch>/<timestamp>-<shortsha>``; CloudWatch forbids ':' and '*' in stream names."""
    return f"{repository}/{branch}/{tag}".replace(":", "_").replace("*", "_")


def event_cost(message: str) -> int:
    """What PutLogEvents counts for one event: its message in UTF-8 bytes plus 26."""
    return len(message.encode("utf-8")) + EVENT_OVERHEAD_BYTES


def split_message(line: str, limit: int = MAX_MESSAGE_BYTES) -> list[str]:
    """The line as one or more messages of at most ``limit`` UTF-8 bytes; parts carry a visible marker."""
    if not line:
        return [" "]  # CloudWatch refuses an empty message
    data = line.encode("utf-8")
    if len(data) <= limit:
        return [line]
    chunks, start, room = [], 0, limit - _PART_MARKER_ROOM
    while start < len(data):
        end = min(start + room, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # never cut a character in two
            end -= 1
        chunks.append(data[start:end].decode("utf-8"))
        start = end
    return [f"[part {i}/{len(chunks)} of a {len(data)}-byte line] {chunk}" for i, chunk in enumerate(chunks, 1)]


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
        self._buffered_bytes = 0
        self._dropped_before_open = 0
        self._last_timestamp = 0
        self._last_flush = clock()
        self._broken = False
        self._lock = threading.RLock()  # docker's stdout and stderr readers write from their own threads

    def write(self, line: str) -> None:
        with self._lock:
            if self._broken:
                return
            for message in split_message(line):
                self._add(message)
            if self.stream is not None and self._due():
                self.flush()

    def buffered_bytes(self) -> int:
        """What the log holds in memory now (PutLogEvents bytes): at most about one batch."""
        return self._buffered_bytes

    def open(self, stream: str) -> LogLocation | None:
        """Create the stream; buffered lines go there on the next flush. The group is created only when the
        stream's call says it is missing: the stack makes it, and the builder's role is not granted
        logs:CreateLogGroup, so asking at every build would be refused at every build."""
        with self._lock:
            self.stream = stream
            if self._group_missing(stream):
                self._create("group", self.logs.create_log_group, fatal=False, logGroupName=self.group)
                self._create("stream", self.logs.create_log_stream, logGroupName=self.group, logStreamName=stream)
            if self._dropped_before_open:
                self._add(f"[build log: {self._dropped_before_open} lines dropped before the stream was opened]")
                self._dropped_before_open = 0
            return self.location()

    def location(self) -> LogLocation | None:
        if self.stream is None or self._broken:
            return None
        return LogLocation(group=self.group, stream=self.stream, region=self.region)

    def flush(self) -> None:
        with self._lock:
            self._last_flush = self.clock()
            if self.stream is None or self._broken or not self._buffer:
                return
            events, self._buffer, self._buffered_bytes = self._buffer, [], 0
            for batch in batches(events):
                try:
                    self.logs.put_log_events(logGroupName=self.group, logStreamName=self.stream, logEvents=batch)
                except (BotoCoreError, ClientError) as exc:
                    self._fail(f"writing to {self.group}:{self.stream}", exc)
                    return

    def _add(self, message: str) -> None:
        cost = event_cost(message)
        if self.stream is None and self._buffered_bytes + cost > BEFORE_OPEN_BYTES:
            self._dropped_before_open += 1
            return
        # PutLogEvents refuses a batch out of chronological order: a clock stepping back keeps the last time
        self._last_timestamp = max(self._last_timestamp, int(self.clock() * 1000))
        self._buffer.append({"timestamp": self._last_timestamp, "message": message})
        self._buffered_bytes += cost

    def _due(self) -> bool:
        return (self._buffered_bytes >= FLUSH_BYTES or len(self._buffer) >= FLUSH_EVENTS
                or self.clock() - self._last_flush >= FLUSH_SECONDS)

    def _group_missing(self, stream: str) -> bool:
        """Create the stream; True only when CloudWatch answers that the group does not exist."""
        try:
            self.logs.create_log_stream(logGroupName=self.group, logStreamName=stream)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code == "ResourceNotFoundException":
                return True
            if code != "ResourceAlreadyExistsException":
                self._fail(f"creating log stream {stream} in {self.group}", exc)
        except BotoCoreError as exc:
            self._fail(f"creating log stream {stream} in {self.group}", exc)
        return False

    def _create(self, what: str, fn: Callable[..., Any], fatal: bool = True, **kwargs: Any) -> None:
        """``fatal=False`` for the group: a role without logs:CreateLogGroup may still create the stream."""
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
        if self._broken:
            self._buffer, self._buffered_bytes = [], 0
        consequence = "the build goes on without its log" if fatal else "trying the stream anyway"
        self.warn(f"build log: {what} failed, {consequence}: {exc}")


def batches(events: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Consecutive events in PutLogEvents-sized batches (bytes, count, 24-hour span)."""
    found: list[list[dict[str, Any]]] = [[]]
    size = 0
    for event in events:
        cost = event_cost(event["message"])
        current = found[-1]
        if current and (len(current) >= MAX_BATCH_EVENTS or size + cost > MAX_BATCH_BYTES
                        or event["timestamp"] - current[0]["timestamp"] > MAX_BATCH_SPAN_MS):
            found.append([])
            size = 0
        found[-1].append(event)
        size += cost
    return [b for b in found if b]
