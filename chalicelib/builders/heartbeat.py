"""The agent's heartbeat: a tag on the builder instance that the reconcile function reads.

Why a tag (docs/reliability.md has the comparison): the reconcile already describes the builder
instance on every run, so the beat costs it no extra call or permission; the tag lives and dies
with the instance (one per builder, ready for a pool); and it needs no new resource in the
template. The agent rewrites it when its state changes and at least every ``BEAT_EVERY_SECONDS``.

Value format (EC2 tag values allow it; no JSON, whose quotes and braces other tag consumers refuse):

    ``<state> since=<ISO-8601 Z> beat=<ISO-8601 Z>[ group=<message group id>]``

``state`` is ``starting``, ``idle`` or ``busy``; ``since`` is when the agent entered that state;
``beat`` is when it last wrote the tag. ``group`` (only with ``busy``, issue 11) is the FIFO message
group the agent is building (chalicelib/fifo.py): with a pool of builders, build_start and the
reconcile must know which pipelines already have a builder. Group ids have no spaces (SQS's rule), so
the value stays space-separated. A value without ``group=`` (an agent from before the pool) still
parses, as a busy builder serving no known group. A value that does not parse reads as no heartbeat.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Optional

TAG_KEY = "pushdeploy:agent"
STATES = ("starting", "idle", "busy")
BEAT_EVERY_SECONDS = 60
MAX_VALUE_CHARS = 256  # EC2's limit for a tag value

_VALUE = re.compile(
    r"^(?P<state>[a-z]{1,16}) since=(?P<since>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z) "
    r"beat=(?P<beat>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z)"
    r"(?: group=(?P<group>[!-~]{1,128}))?\Z", re.ASCII)
_GROUP = re.compile(r"[!-~]{1,128}", re.ASCII)  # SQS's message group id characters: printable ASCII, no space


@dataclass(frozen=True)
class AgentBeat:
    state: str
    since: datetime
    beat: datetime
    group: Optional[str] = None  # the message group a busy agent builds; None: idle, starting, or an older agent

    def tag_value(self) -> str:
        value = f"{self.state} since={_iso(self.since)} beat={_iso(self.beat)}"
        return f"{value} group={self.group}" if self.group else value

    def idle_for(self, now: datetime) -> Optional[float]:
        """Seconds the agent has been idle at ``now``, or None when it is not idle."""
        return (now - self.since).total_seconds() if self.state == "idle" else None

    def silent_for(self, now: datetime) -> float:
        """Seconds since the agent last wrote its beat."""
        return (now - self.beat).total_seconds()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def parse_beat(value: object) -> Optional[AgentBeat]:
    """The beat a tag value carries, or None for a missing, foreign or garbled value (read as silence)."""
    if not isinstance(value, str) or len(value) > MAX_VALUE_CHARS:
        return None
    match = _VALUE.match(value)
    if not match or match["state"] not in STATES:
        return None
    group = match["group"] if match["state"] == "busy" else None  # a group on another state means nothing
    try:
        return AgentBeat(match["state"], _parse_time(match["since"]), _parse_time(match["beat"]), group)
    except ValueError:
        return None


def make_beat(state: str, since: datetime, now: Optional[datetime] = None, group: Optional[str] = None) -> AgentBeat:
    """Refuses what ``parse_beat`` would not read back: an unknown state, a group on a state other than busy,
    a group id SQS would not accept (it would end the value or break the space-separated format)."""
    if state not in STATES:
        raise ValueError(f"heartbeat state must be one of {', '.join(STATES)}, got {state!r}")
    if group is not None and (state != "busy" or not _GROUP.fullmatch(group)):
        raise ValueError(f"heartbeat group must be a message group id (1-128 printable ASCII characters, no space) "
                         f"on a busy beat, got {group!r} on {state!r}")
    return AgentBeat(state, since, now or datetime.now(UTC), group)
