"""The builder pool: N tagged instances from the launch template, and the rules that start and stop them.

SQS FIFO message groups already keep one pipeline on one builder at a time; what is left to decide here is how
many builders run. The rules (HELPERS11 "Pool rules", docs/builder-pool.md) are pure functions of one
DescribeInstances answer, the heartbeat tags it carries and the build queue's depth, so they can be tried
against any pool state without AWS; ``BuilderPool`` is the only part that calls EC2. With one instance every
rule gives the verdicts the single-builder functions gave before the pool.

A builder serves the message group its busy heartbeat names (chalicelib/builders/heartbeat.py), or, while it boots, the
group build_start started it for (its claim tag, below). A pending or running builder that is neither busy nor
claimed (idle, or booting unclaimed) is capacity: its agent will take the next waiting group.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Optional

from chalicelib.aws_errors import AWS_EXCEPTIONS, classify
from chalicelib.builders.build_queue import QueueDepth
from chalicelib.builders.heartbeat import TAG_KEY, AgentBeat, parse_beat
from chalicelib.builders.instance import RUNNING, Instance
from chalicelib.errors import AwsCallError

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
else:
    EC2Client = Any

log = logging.getLogger(__name__)


def pool_name(pool: Sequence[str]) -> str:
    """How logs name the configured pool: as before the pool when it has one builder."""
    if len(pool) == 1:
        return f"the configured builder {pool[0]}"
    return f"one of the configured builders {', '.join(pool)}"


def refusal(instance: Instance, pool: Sequence[str], tag: tuple[str, str]) -> Optional[str]:
    """Why this instance must never be started or stopped, or None for a tagged member of the pool."""
    if instance.instance_id not in pool:
        return f"{instance.instance_id} is not {pool_name(pool)}"
    return instance.refusal(instance.instance_id, tag)


def current_beat(instance: Instance) -> Optional[AgentBeat]:
    """The heartbeat of this boot: a beat older than LaunchTime was left by the previous boot (the tag survives
    a stop), so it says nothing about what the agent does now."""
    beat = parse_beat(instance.tags.get(TAG_KEY))
    if beat is None or (instance.launch_time is not None and beat.beat < instance.launch_time):
        return None
    return beat


def is_busy(instance: Instance) -> bool:
    beat = current_beat(instance)
    return instance.state in RUNNING and beat is not None and beat.state == "busy"


# build_start tags a builder it starts with the group it starts it for ("<group> at=<ISO Z>"), so a later batch
# knows that a booting builder is already spoken for: without it, a booting builder would count as capacity for
# every later pipeline (it takes only one). Read only until the agent's first beat of this boot says more.
CLAIM_TAG_KEY = "pushdeploy:started-for"
CLAIM_SLACK = timedelta(minutes=2)  # the claim is written just before StartInstances; allow for clock skew
_CLAIM = re.compile(r"(?P<group>[!-~]{1,128}) at=(?P<at>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)", re.ASCII)


def claim_value(group: str, now: datetime) -> str:
    return f"{group} at={now.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}"


def claimed(instance: Instance) -> Optional[str]:
    """The group build_start started this booting builder for, while its agent has not yet said what it does;
    None for a claim from an earlier boot (written before this LaunchTime) or one that does not parse."""
    beat = current_beat(instance)
    if instance.state not in RUNNING or (beat is not None and beat.state != "starting"):
        return None
    match = _CLAIM.fullmatch(instance.tags.get(CLAIM_TAG_KEY) or "")
    if not match:
        return None
    at = datetime.fromisoformat(match["at"].replace("Z", "+00:00"))
    if instance.launch_time is not None and at < instance.launch_time - CLAIM_SLACK:
        return None
    return match["group"]


def serving(instance: Instance) -> Optional[str]:
    """The message group a pending or running builder is building now, if its heartbeat names one."""
    beat = current_beat(instance)
    return beat.group if instance.state in RUNNING and beat is not None and beat.state == "busy" else None


# ---------------------------------------------------------------- build_start


@dataclass(frozen=True)
class StartPlan:
    """What build_start does for one batch: start these stopped builders; ``retry`` when more were needed and
    some builder is still stopping (the wake message comes back and finds it stopped); ``verdict`` as before
    the pool: started, already-running, refused (no startable builder at all)."""

    start: tuple[str, ...]
    verdict: str
    why: str
    retry: bool = False
    claims: tuple[str, ...] = ()  # the group each started builder is started for, in the order of ``start``


def plan_start(instances: Sequence[Instance], pool: Sequence[str], tag: tuple[str, str],
               groups: Iterable[str]) -> StartPlan:
    """Start one stopped builder per waiting group that no builder serves (busy with it, or booting for it) and no
    idle or unclaimed booting builder will take, never more than the pool holds."""
    usable = [i for i in instances if refusal(i, pool, tag) is None]
    refused = [f"{i.instance_id}: {refusal(i, pool, tag)}" for i in instances if refusal(i, pool, tag)]
    busy = {group for group in (serving(i) for i in usable) if group}
    booting_for = {group for group in (claimed(i) for i in usable) if group}
    capacity = sum(1 for i in usable if i.state in RUNNING and not is_busy(i) and not claimed(i))
    unserved = sorted(set(groups) - busy - booting_for)
    stopped = [i.instance_id for i in usable if i.state == "stopped"]
    stopping = [i.instance_id for i in usable if i.state == "stopping"]
    need = len(unserved) - capacity
    start = tuple(stopped[:max(0, need)])
    retry = need > len(start) and bool(stopping)
    counts = (f"{len(unserved)} waiting group(s) no builder serves, {capacity} idle or booting builder(s), "
              f"{len(busy)} group(s) being built, {len(booting_for)} booted for")
    if start:
        return StartPlan(start, "started", counts, retry, tuple(unserved[capacity:capacity + len(start)]))
    if retry:
        return StartPlan((), "stopping", f"builder {', '.join(stopping)} is stopping ({counts})", True)
    if not any(i.state in RUNNING for i in usable):
        if not usable and refused:
            return StartPlan((), "refused", "; ".join(refused))
        unstartable = [f"builder {i.instance_id} is {i.state} and cannot be started" for i in usable
                       if i.state not in ("stopped", "stopping")]
        if unstartable and need > 0:
            return StartPlan((), "refused", "; ".join(unstartable))
    running = [f"builder {i.instance_id} already {i.state}" for i in usable if i.state in RUNNING]
    return StartPlan((), "already-running", "; ".join(running) + f" ({counts})" if running else counts)


# ---------------------------------------------------------------- close


def plan_close(instances: Sequence[Instance], pool: Sequence[str], tag: tuple[str, str], named: str,
               agent_exited: bool, depth: Callable[[], QueueDepth]) -> tuple[str, str]:
    """(verdict, why) for an end of run from builder ``named``: stopped, stopped-agent-exited, queue-not-empty,
    already-stopped, refused. ``depth()`` reads the build queue, only when the verdict depends on it."""
    found = [i for i in instances if i.instance_id == named]
    if not found:
        return "refused", f"end of run names {named}, not {pool_name(pool)}"
    instance = found[0]
    why = refusal(instance, pool, tag)
    if why:
        return "refused", why
    if instance.state in ("stopping", "stopped"):
        return "already-stopped", f"builder {named} already {instance.state}"
    if agent_exited:
        return "stopped-agent-exited", "agent exited"
    queue = depth()
    others = [i.instance_id for i in instances if i.instance_id != named and i.state in RUNNING
              and refusal(i, pool, tag) is None]
    if nothing_to_serve(queue, bool(others)):
        held = f"; its {queue.in_flight} in flight are held by {', '.join(others)}" if queue.in_flight else ""
        return "stopped", f"queue empty{held}"
    return "queue-not-empty", f"build queue not empty ({queue})"


# ---------------------------------------------------------------- reconcile


@dataclass(frozen=True)
class ReconcilePlan:
    """Per builder, in pool order: its verdict (as before the pool: started, stopped-idle, stopped-silent,
    queue-empty, already-running, stopping, refused; with several builders also not-needed) and why."""

    verdicts: dict[str, tuple[str, str]]

    def ids(self, verdict: str) -> list[str]:
        return [i for i, (v, _) in self.verdicts.items() if v == verdict]


def nothing_to_serve(depth: QueueDepth, others_running: bool) -> bool:
    """No request waits for this builder: none visible or delayed, and the ones in flight (if any) are another
    running builder's."""
    return depth.visible + depth.delayed == 0 and (depth.in_flight == 0 or others_running)


def plan_reconcile(instances: Sequence[Instance], pool: Sequence[str], tag: tuple[str, str], depth: QueueDepth,
                   now: datetime, idle_seconds: float) -> ReconcilePlan:
    """Stop each running builder that is silent, or idle with nothing to serve; then start stopped builders up
    to one per busy builder and waiting request (in-flight ones too when no builder runs: a dead agent's), never
    more than the pool. A builder stopped by this run is not started again by it (the next run does)."""
    verdicts: dict[str, tuple[str, str]] = {}
    usable = []
    for instance in instances:
        why = refusal(instance, pool, tag)
        if why:
            verdicts[instance.instance_id] = ("refused", why)
        elif instance.state not in RUNNING + ("stopped", "stopping"):
            verdicts[instance.instance_id] = ("refused", f"builder {instance.instance_id} is {instance.state} and "
                                                         "cannot be started")
        else:
            usable.append(instance)
    ran = [i for i in usable if i.state in RUNNING]
    still = {i.instance_id for i in ran}
    for instance in ran:
        empty = nothing_to_serve(depth, bool(still - {instance.instance_id}))
        verdict, why = running_verdict(instance, depth, now, idle_seconds, empty)
        verdicts[instance.instance_id] = (verdict, why)
        if verdict != "already-running":
            still.discard(instance.instance_id)
    for instance in usable:
        if instance.state == "stopping":
            verdicts[instance.instance_id] = ("stopping", f"builder {instance.instance_id} is stopping")
    busy = sum(1 for i in ran if i.instance_id in still and is_busy(i))
    demand = busy + depth.visible + depth.delayed + (depth.in_flight if not ran else 0)
    wanted = max(0, min(len(usable), demand) - len(still))
    stopped = [i for i in usable if i.state == "stopped"]
    for index, instance in enumerate(stopped):
        if index < wanted:
            verdicts[instance.instance_id] = ("started", f"build queue not empty ({depth})")
        elif depth.empty:
            verdicts[instance.instance_id] = ("queue-empty", f"builder {instance.instance_id} is stopped")
        else:
            verdicts[instance.instance_id] = ("not-needed", f"builder {instance.instance_id} is stopped; "
                                                            f"{len(still)} running serve the queue ({depth})")
    return ReconcilePlan({i: verdicts[i] for i in pool if i in verdicts})


FUTURE_BEAT_SLACK = timedelta(minutes=5)  # a beat further ahead than this is garbage (or a wrong clock): ignored


def minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} min"


def running_verdict(instance: Instance, depth: QueueDepth, now: datetime, limit: float,
                    nothing: Optional[bool] = None) -> tuple[str, str]:
    """("stopped-silent" | "stopped-idle" | "already-running", why) for a pending or running builder. Pure, so
    any tag value can be tried against it; a builder launched less than ``limit`` seconds ago is never stopped.
    ``nothing``: no request waits for this builder (default: the build queue is empty; in a pool, requests in
    flight on another running builder do not keep this one up)."""
    nothing = depth.empty if nothing is None else nothing
    raw = instance.tags.get(TAG_KEY)
    beat = parse_beat(raw)
    future = ""
    if beat and beat.beat - now > FUTURE_BEAT_SLACK:
        beat, future = None, "its heartbeat lies in the future, read as none; "
    silent = _silent_seconds(beat, instance.launch_time, now)
    if instance.state == "running" and silent is not None and silent > limit:
        left = (f"while requests wait ({depth}): its agent is dead; the next reconcile starts a fresh boot for them"
                if not depth.empty else "with an empty build queue")
        return "stopped-silent", f"{future}its agent has been silent for {minutes(silent)} {left}"
    idle = _idle_seconds(beat, instance.launch_time, now)
    if instance.state == "running" and nothing and idle is not None and idle > limit:
        queue = "an empty build queue" if depth.empty else f"nothing to serve (build queue: {depth}, held by others)"
        return "stopped-idle", (f"its agent has been idle for {minutes(idle)} with {queue} (close "
                                "should have stopped it on the agent's end of run: that path failed)")
    if beat:
        return "already-running", f"{future}agent {beat.state}, last beat {minutes(silent or 0)} ago"
    if silent is None:
        return "already-running", f"{future}no readable heartbeat and no launch time"
    return "already-running", f"{future}no readable heartbeat yet, launched {minutes(silent)} ago"


def _silent_seconds(beat: Optional[AgentBeat], launched: Optional[datetime], now: datetime) -> Optional[float]:
    """Seconds since the agent last gave a sign of life: its beat, or the boot (a new boot has its grace)."""
    signs = [moment for moment in (beat.beat if beat else None, launched) if moment is not None]
    return (now - max(signs)).total_seconds() if signs else None


def _idle_seconds(beat: Optional[AgentBeat], launched: Optional[datetime], now: datetime) -> Optional[float]:
    """Seconds idle in this boot: counted from LaunchTime at the earliest, so a value left by the previous boot
    (the tag survives a stop) never makes a just-started builder idle."""
    if beat is None or beat.state != "idle":
        return None
    since = max(beat.since, launched) if launched is not None else beat.since
    return (now - since).total_seconds()


# ---------------------------------------------------------------- EC2


class BuilderPool:
    """The pool's instances in EC2: one DescribeInstances for all of them; start and stop only tagged members."""

    def __init__(self, ec2: EC2Client, instance_ids: Sequence[str], tag: tuple[str, str]) -> None:
        self._ec2 = ec2
        self.instance_ids = tuple(instance_ids)
        self.tag = tag

    def describe(self) -> list[Instance]:
        """Every pool instance, in the configured order."""
        try:
            response = self._ec2.describe_instances(InstanceIds=list(self.instance_ids))
        except AWS_EXCEPTIONS as exc:
            raise classify(exc, f"describing instance {', '.join(self.instance_ids)}") from exc
        found = {i["InstanceId"]: _instance(i)
                 for r in response.get("Reservations", []) for i in r.get("Instances", [])}
        missing = [i for i in self.instance_ids if i not in found]
        if missing:
            raise AwsCallError(f"instance {', '.join(missing)} not found")
        return [found[i] for i in self.instance_ids]

    def claim(self, instance: Instance, group: str, now: datetime) -> None:
        """Tag a builder about to be started with the group it is started for. Best effort: without the tag a
        later batch may start one builder more than needed, which is no reason to start none."""
        self._guard(instance, "tag")
        try:
            self._ec2.create_tags(Resources=[instance.instance_id],
                                  Tags=[{"Key": CLAIM_TAG_KEY, "Value": claim_value(group, now)}])
        except AWS_EXCEPTIONS as exc:
            log.warning("build_start: could not tag builder %s with %s (it starts anyway): %s",
                        instance.instance_id, CLAIM_TAG_KEY, classify(exc, "tagging"))

    def start(self, instance: Instance) -> None:
        self._act(instance, "start", self._ec2.start_instances)

    def stop(self, instance: Instance) -> None:
        self._act(instance, "stop", self._ec2.stop_instances)

    def _guard(self, instance: Instance, verb: str) -> None:
        """The last check before EC2 acts: the plans never pick a refused instance, and this keeps it so."""
        why = refusal(instance, self.instance_ids, self.tag)
        if why:
            raise AwsCallError(f"refusing to {verb} {instance.instance_id}: {why}")

    def _act(self, instance: Instance, verb: str, call: Callable[..., Any]) -> None:
        self._guard(instance, verb)
        try:
            call(InstanceIds=[instance.instance_id])
        except AWS_EXCEPTIONS as exc:
            raise classify(exc, f"{_DOING[verb]} builder {instance.instance_id}") from exc


_DOING = {"start": "starting", "stop": "stopping"}


def _instance(data: dict[str, Any]) -> Instance:
    tags = {t["Key"]: t["Value"] for t in data.get("Tags", [])}
    launched = data.get("LaunchTime")
    return Instance(data["InstanceId"], data["State"]["Name"], tags,
                    launched if isinstance(launched, datetime) else None)
