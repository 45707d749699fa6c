"""The ``run`` loop: drain the queue, build each requested pipeline once per round, publish each
result, delete what it answered, repeat while requests keep arriving; when the queue has stayed
empty for the grace period, publish EndOfRun and keep serving the queue until the machine stops.

Replaces the seed's build.sh, which slept 300 s first, deleted requests before building and
always said "stop". A round's messages stay invisible only through the heartbeat, so a killed
agent's requests come back; on SIGTERM they are released at once for the next run.

Every round that received anything (built, rejected or found a duplicate) counts as activity: when
the queue is empty again for the grace period, another EndOfRun goes out, so close can stop a
builder whose last messages were ones it could not serve. In a pool, close leaves a builder running
while another builder holds messages; so after each further grace period with nothing received the
EndOfRun is repeated, until close stops the machine. Receive and EndOfRun failures are
retried with backoff for ``retry_budget_seconds`` before they end the run; whatever ends it (other
than SIGTERM) is reported in an EndOfRun saying the agent exited.
"""

from __future__ import annotations

import math
import signal
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import FrameType
from typing import Any

from agent import AgentError
from agent.builder import BuildContext, build_pipeline
from agent.ecs.journal import DeployJournal
from agent.heartbeat import BeatWriter
from agent.queue.answered import AnsweredRequests
from agent.queue.build_queue import (
    BuildQueue,
    Heartbeat,
    Job,
    QueuedRequest,
    QueueError,
    Round,
    message_group,
    plan_round,
    split_group,
)
from agent.queue.results import Publisher, PublishError
from agent.retry import Backoff
from agent.rollback import rollback_pipeline
from chalicelib.contracts import ACTION_BUILD, ACTION_ROLLBACK, BuildResult

MAX_POLL_SECONDS = 20  # SQS long-poll limit
# Once EndOfRun is sent the machine may stop at any moment. A long poll cut off by the stop still completes
# at SQS, which hands a message that arrives meanwhile to the dead connection and hides it for the whole
# visibility timeout (5 minutes by default): a push landing just as the builder stops would wait that long.
# So while waiting to be stopped the agent short-polls (WaitTimeSeconds 0: nothing waits at SQS's side once
# the process is gone) and pauses this long between polls, for one cheap request a second.
POLL_AFTER_END_OF_RUN_SECONDS = 1


class Terminated(BaseException):
    """Raised in the main thread by SIGTERM: not an Exception, so no build reports it as a failure."""


def raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated(f"signal {signum}")


def install_sigterm() -> None:
    """SIGTERM (systemd stopping the unit) and Ctrl-C end ``run`` gracefully: no EndOfRun, requests released."""
    signal.signal(signal.SIGTERM, raise_terminated)
    signal.signal(signal.SIGINT, raise_terminated)


@dataclass
class RunStats:
    rounds: int = 0
    builds: int = 0
    end_of_runs: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    exit_reported: bool = False  # the crash EndOfRun went out: the stop hook need not send another


def _described(item: QueuedRequest) -> str:
    """A redelivered request says so: it was held by an agent that died or could not publish its result."""
    return item.message_id + (f" (delivery {item.receive_count})" if item.receive_count > 1 else "")


class Runner:
    def __init__(self, ctx: BuildContext, *, clock: Callable[[], float] = time.monotonic,
                 max_poll_seconds: int = MAX_POLL_SECONDS, stop: threading.Event | None = None,
                 backoff: Backoff | None = None, beat: BeatWriter | None = None) -> None:
        self.ctx = ctx
        self.max_poll = max_poll_seconds
        self.stop = stop or threading.Event()
        settings = ctx.config.agent
        self.queue = BuildQueue(ctx.clients.sqs, settings.queue_url, settings.visibility_timeout_seconds)
        self.publisher = Publisher(ctx.clients.sns, settings.close_topic_arn)
        self.grace = settings.idle_grace_seconds
        self.clock = clock
        self.backoff = backoff or Backoff(budget=settings.retry_budget_seconds)
        self.stats = RunStats()
        self.log = ctx.progress.line
        self.beat = beat or BeatWriter(ctx.clients.ec2, ctx.instance_id, self.log)
        self.answered = AnsweredRequests(settings.cache_dir, self.log)
        self.journal = DeployJournal(settings.cache_dir, self.log)
        self._dlq_url: str | None = None
        self._max_receive_count: int | None = None
        self._max_receive_known = False

    def run(self, exit_when_idle: bool = False) -> RunStats:
        """Serve the queue; return after EndOfRun only with ``exit_when_idle``, or when stopped (SIGTERM,
        or the ``stop`` event between polls)."""
        ended = False
        idle_since = self.clock()
        self.beat.start()
        try:
            while not self.stop.is_set():
                work, received = self._drain(self._poll_seconds(ended, idle_since))
                if work:
                    self._round(work)
                self.beat.set("idle")
                if received:
                    ended = False  # the queue had something: when it is empty again, say so again
                    idle_since = self.clock()
                    continue
                if self.clock() - idle_since >= self.grace:
                    # Again after another grace period: close leaves a builder running while messages are in flight
                    # (another builder's build); once those are done, nothing else would ask for this one's stop.
                    self._end_of_run(f"nothing received for {self.grace}s since the last EndOfRun" if ended
                                     else f"queue empty for {self.grace}s")
                    idle_since = self.clock()
                    if exit_when_idle:
                        return self.stats
                    ended = True
                if ended:
                    self.stop.wait(POLL_AFTER_END_OF_RUN_SECONDS)
            return self.stats
        except Terminated:
            self.log("run: terminated by signal; unfinished requests are left in the queue for the next run")
            return self.stats
        except BaseException as exc:
            # Sent even after an earlier EndOfRun: that one said "still serving", and close may have kept the
            # builder running for a request that arrived since; this one says nothing will serve it.
            self._end_of_run(f"agent stopped by an error: {type(exc).__name__}: {exc}"[:300], best_effort=True,
                             agent_exited=True)
            raise
        finally:
            self.beat.stop()

    def _poll_seconds(self, ended: bool, idle_since: float) -> int:
        if ended:
            return 0
        remaining = self.grace - (self.clock() - idle_since)
        return max(0, min(self.max_poll, math.ceil(remaining)))

    def _drain(self, wait_seconds: int) -> tuple[Round, int]:
        """The next round's work, and how many messages were received (rejected and duplicates included)."""
        messages = self._receive(wait_seconds)
        pipelines = [p.id for p in self.ctx.config.pipelines]
        work = plan_round(messages, pipelines, self.log, every_pipeline=not self.queue.fifo)
        self._dead_letter(work)
        self._drop_answered(work)
        if work:
            self.stats.rounds += 1
            groups = ", ".join(dict.fromkeys(work.groups.values()))
            group = f" of group {groups}" if groups else ""
            self.log(f"round {self.stats.rounds}: {len(messages)} message(s){group} -> pipelines "
                     + ", ".join(work.order))
        return work, len(messages)

    def _receive(self, wait_seconds: int) -> list[dict[str, Any]]:
        """A standard queue: everything available. A FIFO queue: one receive, of which the first message's group
        is kept (one pipeline per round, so the pool's other builders serve the other groups), and the rest is
        released at once rather than held for this round's whole build; except a group that one more receive
        would send to the dead-letter queue (``split_group``)."""
        if not self.queue.fifo:
            return self.backoff.call("queue receive", lambda: self.queue.receive_all(wait_seconds), self.log)
        attempt = uuid.uuid4().hex  # one per round: every retry of this receive is the same attempt
        received = self.backoff.call("queue receive", lambda: self.queue.receive_one(wait_seconds, attempt), self.log)
        kept, others = split_group(received, self._max_receives())
        extra = dict.fromkeys(message_group(m) for m in kept[1:] if message_group(m) != message_group(kept[0]))
        if extra:
            self.log(f"queue: also serving group(s) {', '.join(extra)} in this round: a message of each was received "
                     f"{self._max_receive_count} times, and SQS dead-letters it at its next receive (maxReceiveCount)")
        self._release_others(others)
        return kept

    def _release_others(self, others: list[dict[str, Any]]) -> None:
        """Other groups' messages go back at once; a failed release only delays them (their visibility timeout)."""
        if not others:
            return
        groups = ", ".join(dict.fromkeys(message_group(m) for m in others))
        try:
            self.queue.release(others)
        except QueueError as exc:
            self.log(f"queue: could not release {len(others)} message(s) of group(s) {groups}; they return after "
                     f"the visibility timeout: {exc}")
            return
        self.log(f"queue: released {len(others)} message(s) of group(s) {groups} for the other builders")

    def _max_receives(self) -> int | None:
        """The build queue's maxReceiveCount, read once (asked again after a failed read)."""
        if not self._max_receive_known:
            try:
                self._max_receive_count = self.queue.max_receive_count()
            except QueueError as exc:
                self.log(f"queue: cannot read the redrive policy (every other group is released): {exc}")
                return None
            self._max_receive_known = True
        return self._max_receive_count

    def _dead_letter(self, work: Round) -> None:
        if not work.rejected:
            return
        dlq = self._dead_letter_queue()
        for item in work.rejected:
            if not dlq:
                continue
            try:
                self.queue.dead_letter(item, dlq)
            except QueueError as exc:
                self.log(f"queue: message {item.message_id} not dead-lettered (SQS's redrive will move it): {exc}")
                continue
            self.stats.dead_lettered += 1
            self.log(f"queue: message {item.message_id} sent to the dead-letter queue {dlq}: {item.reason}")

    def _dead_letter_queue(self) -> str:
        """The DLQ: from the settings, else from the queue's RedrivePolicy; "" leaves rejects to SQS's redrive."""
        if self._dlq_url is None:
            configured = self.ctx.config.agent.dead_letter_queue_url
            source = "settings (dead_letter_queue_url)"
            if not configured:
                source = "the build queue's RedrivePolicy"
                try:
                    configured = self.queue.dead_letter_url()
                except QueueError as exc:
                    self.log(f"queue: cannot read the redrive policy: {exc}")
                    return ""  # asked again next time: the error may pass
            self._dlq_url = configured
            self.log(f"queue: dead-letter queue from {source}: {configured}" if configured else
                     "queue: no dead-letter queue known (no dead_letter_queue_url, no RedrivePolicy): rejected "
                     "messages are left in the queue")
        return self._dlq_url

    def _drop_answered(self, work: Round) -> None:
        for item in work.all_requests():
            pipelines = [pid for pid in work.order if item in work.requests[pid]]
            answer = self.answered.answered_by(item, pipelines)
            if answer is None:
                continue
            work.drop(item.message_id)
            self.stats.duplicates += 1
            self.log(f"queue: message {_described(item)} (event {item.request.event_id}) was already answered by "
                     f"{answer}: deleted without building")
            try:
                self.queue.delete([item])
            except QueueError as exc:
                self.log(f"queue: could not delete the duplicate {item.message_id} (it comes back, harmlessly): {exc}")

    def _round(self, work: Round) -> None:
        with Heartbeat(self.queue, work.held, self.log):
            try:
                for pid in work.order:
                    self.beat.set("busy", work.groups.get(pid))
                    for job in work.jobs(pid):
                        self._run_job(work, job)
            except Terminated:
                self._release(work)
                raise

    def _run_job(self, work: Round, job: Job) -> None:
        pid = job.pipeline
        self.log(f"pipeline {pid}: {job.describe()} for {len(job.items)} request(s): "
                 + ", ".join(map(_described, job.items)))
        result = self._carry_out(job)
        self.stats.builds += 1
        try:
            self.publisher.publish(result)
        except PublishError as exc:
            kept = work.abandon(pid, job.items)
            self.log(f"result for {pid} not published, its {len(kept)} request(s) stay queued for redelivery: {exc}")
            return
        self.log(f"result published: {pid} {job.action} {result.outcome} commit={(result.commit or '-')[:7]}")
        if job.action == ACTION_BUILD:
            self.journal.clear(pid)  # the team has the final word on this deploy: nothing left to verify
        self.answered.record(job.items, pid, f"the {result.outcome} {job.action} of {pid} at "
                             f"{(result.commit or 'no commit')[:12]} (finished {result.finished_at})")
        try:
            self.queue.delete(work.done(pid, job.items))
        except QueueError as exc:
            self.log(f"delete after publishing failed (the request will be rebuilt, harmlessly): {exc}")

    def _carry_out(self, job: Job) -> BuildResult:
        """The job's result, saying what was asked, how it arrived and by whom."""
        pipeline = self.ctx.config.pipeline(job.pipeline)
        if job.action == ACTION_ROLLBACK:
            result = rollback_pipeline(self.ctx, pipeline, job.rollback_to)
        else:
            result = build_pipeline(self.ctx, pipeline, commit=job.commit, force=job.force)
        return replace(result, action=job.action, trigger=job.trigger, requested_by=job.requested_by)

    def _release(self, work: Round) -> None:
        """Make the round's unanswered requests visible again at once, for the next run."""
        held = work.held()
        try:
            self.queue.set_visibility(held, 0)
        except QueueError as exc:
            self.log(f"run: could not release {len(held)} message(s); they return after the visibility timeout: {exc}")

    def _end_of_run(self, reason: str, best_effort: bool = False, agent_exited: bool = False) -> None:
        try:
            self.backoff.call("end-of-run publish", lambda: self.publisher.end_of_run(
                self.ctx.instance_id, reason, agent_exited=agent_exited), self.log)
        except (PublishError, AgentError) as exc:
            if not best_effort:
                raise
            self.log(f"end-of-run could not be published: {exc}")
            return
        self.stats.end_of_runs += 1
        self.stats.exit_reported = self.stats.exit_reported or agent_exited
        exited = "; the agent exits, so the builder is stopped whatever is queued" if agent_exited else ""
        self.log(f"end-of-run published (instance {self.ctx.instance_id or 'configured builder'}): {reason}{exited}")
