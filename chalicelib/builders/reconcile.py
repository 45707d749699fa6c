"""The reconcile function: every few minutes, make the builder's state match the work, and say what is stuck.

Level-triggered: each run reads the state (builder, its agent's heartbeat tag, queue depth, the oldest
request's age, the dead-letter queue) and acts only on what it finds, so a second run finds nothing
more to do. docs/reliability.md has the rules and why; in short:

- requests wait (visible, delayed or in flight) and the builder is stopped: start it. A request that
  arrives as close stops the builder, and a dead agent's in-flight requests, would otherwise wait for
  the next push;
- the builder runs, the queue is empty and the agent has been idle (or silent) longer than
  ``BUILDER_IDLE_MINUTES``: stop it and alert, because close normally stops it on the agent's
  EndOfRun, so that path failed. A builder whose agent is silent that long is stopped even with
  requests waiting: its agent is dead, and the next run starts a fresh boot for them. "Silent" counts
  from the later of the last beat and the instance's LaunchTime, so a just-booted builder has its grace;
- the oldest request is older than ``STALE_REQUEST_MINUTES``: alert once per stretch (a tag on the
  build queue remembers the announcement until the age falls back under the threshold);
- each dead letter is announced once, at most ``DEAD_LETTERS_PER_RUN`` per run.

A builder state never raises (the next run comes anyway); settings and AWS failures do, as in every function.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Optional

from chalicelib.builders.alert_topic import AlertTopic
from chalicelib.builders.build_queue import BuildQueue, QueueDepth
from chalicelib.builders.dead_letters import DeadLetter, DeadLetterQueue
from chalicelib.builders.heartbeat import TAG_KEY
from chalicelib.builders.instance import Instance
from chalicelib.builders.pool import BuilderPool, minutes, plan_reconcile
from chalicelib.builders.queue_age import QueueAge
from chalicelib.contracts import Alert, ContractError, parse_build_request, unwrap_sns_envelope, utc_now

log = logging.getLogger(__name__)

DEAD_LETTERS_PER_RUN = 10  # announcements per run; the rest wait for the next run
RECEIVES_PER_RUN = 3  # receive calls per run (marked copies met again are hidden, not announced)
STALE_TAG = "pushdeploy:stale-announced"
SNIPPET_CHARS = 300
REASON_CHARS = 500


def _now() -> datetime:
    return datetime.now(UTC)


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"… [{len(text) - limit} more characters]"


class ReconcileHandler:
    def __init__(self, pool: BuilderPool, queue: BuildQueue, age: QueueAge, dead_letters: DeadLetterQueue,
                 alerts: AlertTopic, idle_minutes: int, stale_minutes: int,
                 clock: Callable[[], datetime] = _now) -> None:
        self._pool = pool
        self._queue = queue
        self._age = age
        self._dead = dead_letters
        self._alerts = alerts
        self._idle_seconds = idle_minutes * 60
        self._stale_seconds = stale_minutes * 60
        self._clock = clock

    def handle(self) -> dict[str, Any]:
        """What each rule did: builder (started, stopped-idle, stopped-silent, queue-empty, already-running,
        stopping, refused; with several builders the most telling of theirs, see ``summary``), builders (each
        one's verdict, by instance id; also not-needed: stopped while enough run), stale_request (announced,
        already-announced, cleared, fresh, unknown) and the number of dead letters announced."""
        now = self._clock()
        builder, builders = self._builder_step(now)
        return {"builder": builder, "builders": builders, "stale_request": self._stale_step(),
                "dead_letters": self._dead_letter_step()}

    # ------------------------------------------------------------ builder

    def _builder_step(self, now: datetime) -> tuple[str, dict[str, str]]:
        """(the run's verdict, each builder's verdict): with one builder both say the same."""
        instances = self._pool.describe()
        depth = self._queue.depth()
        plan = plan_reconcile(instances, self._pool.instance_ids, self._pool.tag, depth, now, self._idle_seconds)
        by_id = {i.instance_id: i for i in instances}
        for instance_id, (verdict, why) in plan.verdicts.items():
            self._act(by_id[instance_id], verdict, why, depth)
        verdicts = {i: v for i, (v, _) in plan.verdicts.items()}
        return summary(list(verdicts.values())), verdicts

    def _act(self, instance: Instance, verdict: str, why: str, depth: QueueDepth) -> None:
        if verdict == "refused":
            log.error("reconcile: leaving the builder alone: %s", why)
        elif verdict == "stopping":
            log.info("reconcile: %s; the next run starts it if work is waiting", why)
        elif verdict == "queue-empty":
            log.info("reconcile: %s and the build queue is empty; nothing to do", why)
        elif verdict == "not-needed":
            log.info("reconcile: %s; left stopped", why)
        elif verdict == "started":
            self._pool.start(instance)
            died = " (in-flight messages on a stopped builder: its agent died; they return to the queue)" \
                if depth.in_flight else ""
            log.info("reconcile: build queue not empty (%s) while builder %s was stopped: started it%s",
                     depth, instance.instance_id, died)
        elif verdict == "already-running":
            log.info("reconcile: builder %s is %s (%s; queue: %s); left running", instance.instance_id,
                     instance.state, why, depth)
        else:
            self._stop(instance, why, depth, instance.tags.get(TAG_KEY))

    def _stop(self, instance: Instance, why: str, depth: QueueDepth, raw_beat: Optional[str]) -> None:
        """Alert first: if the stop then fails, the run raises and its retry alerts again; the other order
        would lose the alert when the publish fails (the retry finds the builder stopped and says nothing)."""
        self._alerts.publish(Alert(
            kind="builder_stopped", sent_at=utc_now(),
            summary=f"Builder {instance.instance_id} stopped by the reconcile: {why}",
            detail=f"build queue: {depth}; heartbeat tag {TAG_KEY}: {_clip(repr(raw_beat), 300)}"))
        self._pool.stop(instance)
        log.warning("reconcile: stopped builder %s: %s", instance.instance_id, why)

    # ------------------------------------------------------------ stale request

    def _stale_step(self) -> str:
        age = self._age.oldest_seconds(self._clock())
        if age is None:
            log.info("reconcile: no reading of the oldest request's age from CloudWatch; stale check skipped")
            return "unknown"
        announced = self._queue.tags().get(STALE_TAG)
        if age < self._stale_seconds:
            if announced:
                self._queue.untag(STALE_TAG)
                log.info("reconcile: oldest request is %s old again, under %s: the stale stretch announced at %s is "
                         "over", minutes(age), minutes(self._stale_seconds), announced)
                return "cleared"
            return "fresh"
        if announced:
            log.info("reconcile: oldest request is %s old; already announced at %s", minutes(age), announced)
            return "already-announced"
        self._alerts.publish(Alert(
            kind="stale_request", sent_at=utc_now(),
            summary=f"The oldest build request has waited {minutes(age)} (threshold {minutes(self._stale_seconds)})",
            detail=f"queue {self._age.queue_name}: {self._queue.depth()}. Is the builder running and its agent "
                   "serving this pipeline? Announced once until the age falls back under the threshold."))
        self._queue.tag(STALE_TAG, utc_now())  # after the publish: a failure repeats the alert, never loses it
        log.warning("reconcile: oldest request in %s is %s old (threshold %s): announced", self._age.queue_name,
                    minutes(age), minutes(self._stale_seconds))
        return "announced"

    # ------------------------------------------------------------ dead letters

    def _dead_letter_step(self) -> int:
        announced = hidden = 0
        for _ in range(RECEIVES_PER_RUN):
            letters = self._dead.receive(DEAD_LETTERS_PER_RUN - announced)
            if not letters:
                break
            for letter in letters:
                if letter.notified:
                    self._dead.hide(letter)
                    hidden += 1
                    continue
                self._announce(letter)
                announced += 1
            if announced >= DEAD_LETTERS_PER_RUN:
                log.info("reconcile: announced %d dead letters, the most per run; the rest wait for the next run",
                         announced)
                break
        if announced or hidden:
            log.info("reconcile: dead-letter queue: %d announced, %d already announced (hidden for a while)",
                     announced, hidden)
        return announced

    def _announce(self, letter: DeadLetter) -> None:
        alert = dead_letter_alert(letter)
        self._alerts.publish(alert)
        self._dead.replace_with_marked_copy(letter, utc_now())
        log.warning("reconcile: dead letter %s announced: %s", letter.message_id, alert.summary)


# The run's one-word answer with several builders: what changed beats what did not.
SUMMARY_ORDER = ("started", "stopped-silent", "stopped-idle", "already-running", "stopping", "queue-empty",
                 "not-needed", "refused")


def summary(verdicts: list[str]) -> str:
    """The run's builder verdict: the builder's own with one builder, else the first of SUMMARY_ORDER found."""
    return min(verdicts, key=SUMMARY_ORDER.index) if verdicts else "refused"


def _unexplained(received: int) -> str:
    """Why a dead letter without the agent's reason is there: SQS moved it after ``received`` deliveries."""
    if received < 1:
        return ("no reason recorded, and it was never delivered from the build queue (sent to the dead-letter queue "
                "directly)")
    return f"received {received} times without a result (the agent crashed or was stopped while building it)"


def dead_letter_alert(letter: DeadLetter) -> Alert:
    """The announcement of one dead letter: pipeline, commit and the agent's reason, or why it cannot say."""
    reason = _clip(letter.reason, REASON_CHARS) if letter.reason else _unexplained(letter.receive_count - 1)
    try:
        body = unwrap_sns_envelope(letter.body)
        request = parse_build_request(body)
    except (ContractError, RecursionError) as exc:  # RecursionError: JSON nested deeper than the parser goes
        body = letter.body
        return Alert(kind="dead_letter", sent_at=utc_now(), message_id=letter.message_id,
                     summary=f"A build request that does not parse was dead-lettered: {reason}",
                     detail=f"message {letter.message_id}: not a build request ({_clip(str(exc), 300)}); body starts "
                            f"{_clip(repr(body[:SNIPPET_CHARS]), SNIPPET_CHARS + 10)}")
    pipeline = _clip(request.pipeline, SNIPPET_CHARS) if request.pipeline else None
    what = pipeline or "every pipeline (legacy build request)"
    short = f" at {request.commit[:7]}" if request.commit else ""
    return Alert(kind="dead_letter", sent_at=utc_now(), message_id=letter.message_id, pipeline=pipeline,
                 commit=request.commit, summary=f"Build request for {what}{short} was dead-lettered: {reason}",
                 detail=f"message {letter.message_id}, event {_clip(request.event_id, 200)}, requested "
                        f"{request.requested_at}; "
                        "it stays in the dead-letter queue (marked as announced) for inspection or redrive")
