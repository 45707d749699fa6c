"""The agent's side of the heartbeat (format and reasons in chalicelib/builders/heartbeat.py): a tag on its
own instance saying ``starting``, ``busy`` or ``idle`` and when it last said so; ``busy`` names the
message group (the pipeline) it builds, so that with a pool of builders build_start and the reconcile
start another builder only for pipelines nobody serves.

The reconcile stops a builder whose agent is idle or silent for too long, so the beat is written
on every state change and rewritten by a background thread at least every BEAT_EVERY_SECONDS,
also during an hour-long build. Writing it is never worth a build: a failed write is logged (once
per distinct error, so a missing permission does not flood the journal) and the work goes on.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.builders.heartbeat import BEAT_EVERY_SECONDS, TAG_KEY, make_beat

Log = Callable[[str], None]


def _utc_now() -> datetime:
    return datetime.now(UTC)


class BeatWriter:
    """Writes the ``pushdeploy:agent`` tag on ``instance_id``; a no-op (said once) without an instance id."""

    def __init__(self, ec2: Any, instance_id: str | None, log: Log, *, every: float = BEAT_EVERY_SECONDS,
                 now: Callable[[], datetime] = _utc_now) -> None:
        self.ec2 = ec2
        self.instance_id = instance_id
        self.log = log
        self.every = every
        self.now = now
        self.state = ""
        self.group: str | None = None
        self.since = now()
        self.writes = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error = ""

    def start(self) -> BeatWriter:
        """Say ``starting`` and keep the beat going until ``stop``."""
        if not self.instance_id:
            self.log("heartbeat: no instance id (not on EC2, none configured): no heartbeat tag is written")
            return self
        self.set("starting")
        self._thread = threading.Thread(target=self._run, name="pushdeploy-agent-beat", daemon=True)
        self._thread.start()
        return self

    def set(self, state: str, group: str | None = None) -> None:
        """Enter ``state`` (a change moves ``since``), ``busy`` with the message group served (FIFO queue); the
        beat thread writes it at once. Never blocks the caller on EC2: a build must not wait for a tag."""
        with self._lock:
            if (state, group) == (self.state, self.group):
                return
            if state != self.state:
                self.since = self.now()
            self.state, self.group = state, group
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            self._write()
            self._wake.wait(self.every)

    def _write(self) -> None:
        with self._lock:
            value = make_beat(self.state, self.since, self.now(), self.group).tag_value()
        try:
            self.ec2.create_tags(Resources=[self.instance_id], Tags=[{"Key": TAG_KEY, "Value": value}])
        except (BotoCoreError, ClientError, ValueError) as exc:  # the beat thread must outlive any failure
            if str(exc) != self._last_error:
                self.log(f"heartbeat: tag {TAG_KEY} on {self.instance_id} not written (the work goes on): {exc}")
            self._last_error = str(exc)
            return
        if self._last_error:
            self.log(f"heartbeat: tag {TAG_KEY} on {self.instance_id} written again: {value}")
        self._last_error = ""
        self.writes += 1
