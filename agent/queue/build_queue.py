"""The build queue: receive everything, group it by pipeline, and delete a request only after the
work it asked for has a published result.

The seed deleted every message before building, so a crash lost the request. Here a received
message stays invisible only while a heartbeat keeps extending it; if the agent dies, the
heartbeat stops and SQS hands the request to the next run. On a FIFO queue (a pool of builders) a round
serves one message group, i.e. one pipeline: the messages of other groups are released at once, for
whichever builder is free, and SQS's group lock keeps every other builder off this pipeline until the
round deletes or releases its messages. Messages the agent cannot act on
(malformed, unknown pipeline) are sent to the dead-letter queue at once with the reason in the
``pushdeploy-reason`` attribute, and deleted: an unservable request must not keep the builder up
for five visibility timeouts. Without a known dead-letter queue they are left alone, and SQS's
own redrive moves them after five receives. They never hold up the others.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from agent import AgentError
from chalicelib.contracts import (
    ACTION_ROLLBACK,
    DEAD_LETTER_REASON_ATTRIBUTE,
    MAX_PUSHED_BY_CHARS,
    BuildRequest,
    ContractError,
    parse_build_request,
    parse_timestamp,
    unwrap_sns_envelope,
)
from chalicelib.fifo import is_fifo

if TYPE_CHECKING:  # pragma: no cover
    from mypy_boto3_sqs import SQSClient
else:
    SQSClient = Any

_BATCH = 10
# A FIFO round asks for at most this many messages. Every message of another group that a round receives is
# released, and a release counts as a receive: in a pool a waiting message is received by about as many rounds as
# one receive holds before its group comes first (benchmarks/fifo_release_churn.py), so a receive of 10 brings the
# template's maxReceiveCount of 10 within reach, where the keep rule (``split_group``) makes one builder build two
# pipelines in a row while others go idle. Five keeps that rule the exception and halves the releases; a round
# still coalesces up to five pushes of its pipeline, and any more are the next round's (one build, or a skip).
FIFO_RECEIVE = 5
_MAX_PER_DRAIN = 1000
GROUP_ATTRIBUTE = "MessageGroupId"
EVERY_PIPELINE_ON_FIFO = ("a request for every pipeline (no repository/branch) is not served on a FIFO queue: it "
                          "would build pipelines outside their message groups, perhaps while another builder "
                          "builds one of them; ask for each pipeline instead (one request per repository/branch)")
MAX_NAMED_REQUESTERS = 5  # a result names this many who asked, then "and N more"


class QueueError(AgentError):
    """The queue could not be read or updated."""


@dataclass(frozen=True)
class QueuedRequest:
    message_id: str
    receipt_handle: str
    request: BuildRequest
    receive_count: int = 1


@dataclass(frozen=True)
class Rejected:
    message_id: str
    reason: str
    receipt_handle: str = ""
    body: str = ""
    group: str = ""  # its message group on a FIFO queue (a FIFO dead-letter queue wants one)


def message_group(message: dict[str, Any]) -> str:
    return str(message.get("Attributes", {}).get(GROUP_ATTRIBUTE, ""))


def receive_count(message: dict[str, Any]) -> int:
    return int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))


Messages = list[dict[str, Any]]


def split_group(messages: Sequence[dict[str, Any]], max_receives: int | None = None) -> tuple[Messages, Messages]:
    """(the messages to serve, the messages to release): a round serves the first message's group and releases
    the rest at once. Every release costs a receive, and SQS moves a message received ``max_receives`` times
    (the RedrivePolicy's maxReceiveCount) to the dead-letter queue at its next receive: a group with such a
    message is kept too (served in this round after the first), since releasing it would lose the request."""
    if not messages:
        return [], []
    kept_groups = {message_group(messages[0])}
    if max_receives is not None:
        kept_groups |= {message_group(m) for m in messages if receive_count(m) >= max_receives}
    return ([m for m in messages if message_group(m) in kept_groups],
            [m for m in messages if message_group(m) not in kept_groups])


@dataclass
class Round:
    """The work one drain found: each pipeline once, with every request it answers.

    A legacy ``build`` request asks for every pipeline, so it is done (deletable) only when
    each pipeline of the round has published its result.
    """

    order: list[str] = field(default_factory=list)
    requests: dict[str, list[QueuedRequest]] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)
    groups: dict[str, str] = field(default_factory=dict)  # pipeline -> its message group, named in the busy beat
    _pending: dict[str, set[str]] = field(default_factory=dict)
    _by_id: dict[str, QueuedRequest] = field(default_factory=dict)

    def add(self, item: QueuedRequest, pipelines: Sequence[str]) -> None:
        self._by_id[item.message_id] = item
        self._pending.setdefault(item.message_id, set()).update(pipelines)
        for pid in pipelines:
            if pid not in self.requests:
                self.order.append(pid)
                self.requests[pid] = []
            self.requests[pid] = [r for r in self.requests[pid] if r.message_id != item.message_id] + [item]

    def held(self) -> list[QueuedRequest]:
        return [self._by_id[mid] for mid, pending in self._pending.items() if pending]

    def jobs(self, pid: str) -> list[Job]:
        """The pipeline's work in arrival order (see ``plan_jobs``)."""
        return plan_jobs(pid, self.requests.get(pid, []))

    def done(self, pid: str, items: Sequence[QueuedRequest] | None = None) -> list[QueuedRequest]:
        """Mark one job's result published (``items``: its requests; None: all of the pipeline's); return the
        messages that now have nothing pending."""
        asked = None if items is None else {i.message_id for i in items}
        finished = []
        for mid, pending in self._pending.items():
            if pid in pending and (asked is None or mid in asked):
                pending.discard(pid)
                if not pending:
                    finished.append(self._by_id[mid])
        return finished

    def abandon(self, pid: str, items: Sequence[QueuedRequest] | None = None) -> list[QueuedRequest]:
        """One job's result could not be published: none of the messages that asked for it may be deleted this
        round (a legacy request answered by the other pipelines included), and they are no longer held, so SQS
        hands them to a later drain once their visibility timeout ends. The pipeline's other jobs are not
        affected: they answer other requests."""
        asked = None if items is None else {i.message_id for i in items}
        dropped = [self._by_id[mid] for mid, pending in self._pending.items()
                   if pid in pending and (asked is None or mid in asked)]
        for item in dropped:
            del self._pending[item.message_id]
        return dropped

    def drop(self, message_id: str) -> None:
        """Take a message out of the round (a redelivery already answered): nothing builds for it."""
        item = self._by_id.pop(message_id)
        self._pending.pop(message_id, None)
        for pid in list(self.order):
            self.requests[pid] = [r for r in self.requests[pid] if r is not item]
            if not self.requests[pid]:
                del self.requests[pid]
                self.order.remove(pid)

    def all_requests(self) -> list[QueuedRequest]:
        return list(self._by_id.values())

    def __bool__(self) -> bool:
        return bool(self.order)


@dataclass
class Job:
    """One build or rollback of a pipeline, answering one or more requests."""

    pipeline: str
    action: str
    items: list[QueuedRequest]
    commit: str | None = None        # pinned: build exactly this commit (None: the branch head at fetch time)
    force: bool = False              # deploy even when the image equals what runs
    rollback_to: str | None = None   # None: the previous revision

    @property
    def key(self) -> tuple[str, str | None]:
        """Adjacent requests with the same key are one job."""
        return (self.action, self.rollback_to if self.action == ACTION_ROLLBACK else self.commit)

    @property
    def trigger(self) -> str:
        return ", ".join(dict.fromkeys(item.request.triggered_by for item in self.items))

    @property
    def requested_by(self) -> str | None:
        """Who asked (pushed or called the API), de-duplicated in order, at most MAX_NAMED_REQUESTERS names."""
        names = list(dict.fromkeys(i.request.pushed_by for i in self.items if i.request.pushed_by))
        if not names:
            return None
        text = ", ".join(names[:MAX_NAMED_REQUESTERS])
        if len(names) > MAX_NAMED_REQUESTERS:
            text += f" and {len(names) - MAX_NAMED_REQUESTERS} more"
        return text if len(text) <= MAX_PUSHED_BY_CHARS else text[:MAX_PUSHED_BY_CHARS - 3] + "..."

    def describe(self) -> str:
        if self.action == ACTION_ROLLBACK:
            what = f"rollback to {self.rollback_to or 'the previous revision'}"
        else:
            what = f"build of {self.commit[:12]} (pinned)" if self.commit else "build of the branch head"
        return what + (" (forced)" if self.force else "")


def plan_jobs(pid: str, items: Sequence[QueuedRequest]) -> list[Job]:
    """A pipeline's requests as jobs in the order they were asked for: adjacent head builds are one build of
    the head (forced if any asked it), a pinned build builds its commit (adjacent pins of the same commit once),
    a rollback rolls back (adjacent ones to the same target once). Order matters: "build, roll back, build"
    must not become one build."""
    jobs: list[Job] = []
    for item in sorted(items, key=lambda i: parse_timestamp(i.request.requested_at)):  # SQS keeps no order
        request = item.request
        job = Job(pid, request.action, [item], request.commit if request.pin else None, request.force,
                  request.rollback_to if request.action == ACTION_ROLLBACK else None)
        if jobs and jobs[-1].key == job.key:
            jobs[-1].items.append(item)
            jobs[-1].force = jobs[-1].force or job.force
        else:
            jobs.append(job)
    return jobs


def plan_round(messages: Iterable[dict[str, Any]], pipelines: Sequence[str], log: Callable[[str], None],
               every_pipeline: bool = True) -> Round:
    """Group raw SQS messages by pipeline; log and set aside what cannot be acted on. ``every_pipeline`` False
    (a FIFO queue): a request naming no pipeline is rejected rather than built for every pipeline."""
    work = Round()
    for message in messages:
        mid, body, handle = message.get("MessageId", "?"), message.get("Body", ""), message.get("ReceiptHandle", "")
        group = message_group(message)
        try:
            request = parse_build_request(unwrap_sns_envelope(body), event_id=mid)
        except ContractError as exc:
            work.rejected.append(Rejected(mid, f"malformed request: {exc}", handle, body, group))
            continue
        if request.pipeline is None and not every_pipeline:
            work.rejected.append(Rejected(mid, EVERY_PIPELINE_ON_FIFO, handle, body, group))
            continue
        if request.pipeline is None:
            targets = list(pipelines)
        elif request.pipeline in pipelines:
            targets = [request.pipeline]
        else:
            reason = f"unknown pipeline {request.pipeline!r} (not in the settings file)"
            work.rejected.append(Rejected(mid, reason, handle, body, group))
            continue
        work.add(QueuedRequest(mid, message["ReceiptHandle"], request, receive_count(message)), targets)
        if group:
            work.groups.update({pid: group for pid in targets})
    for item in work.rejected:
        log(f"queue: message {item.message_id} rejected: {item.reason}")
    return work


class BuildQueue:
    """SQS calls with the agent's visibility rule; errors name the queue."""

    def __init__(self, sqs: SQSClient, queue_url: str, visibility_timeout: int = 300) -> None:
        self.sqs = sqs
        self.url = queue_url
        self.visibility_timeout = visibility_timeout
        self.fifo = is_fifo(queue_url)

    def receive_one(self, wait_seconds: int = 0, attempt_id: str = "") -> list[dict[str, Any]]:
        """One receive of up to FIFO_RECEIVE, with each message's group: a FIFO round serves what one receive
        gives. ``attempt_id`` (ReceiveRequestAttemptId, FIFO only): a receive retried with it, by botocore or by
        the caller, within five minutes gets the messages a lost answer held, not an empty queue while their
        group stays in flight for the whole visibility timeout."""
        attempt = {"ReceiveRequestAttemptId": attempt_id} if attempt_id and self.fifo else {}
        answer = self._call("receive", self.sqs.receive_message, QueueUrl=self.url, MaxNumberOfMessages=FIFO_RECEIVE,
                            WaitTimeSeconds=wait_seconds, VisibilityTimeout=self.visibility_timeout,
                            AttributeNames=["ApproximateReceiveCount", GROUP_ATTRIBUTE], **attempt)
        return list(answer.get("Messages", []))

    def release(self, messages: Sequence[dict[str, Any]]) -> None:
        """Make raw received messages visible again at once (ChangeMessageVisibility 0), for any consumer."""
        self._change_visibility([str(m.get("MessageId", "?")) for m in messages],
                                [m["ReceiptHandle"] for m in messages], 0)

    def receive_all(self, wait_seconds: int = 0) -> list[dict[str, Any]]:
        """Batches of 10 until a receive comes back empty; only the first call may long-poll."""
        received: list[dict[str, Any]] = []
        wait = wait_seconds
        while len(received) < _MAX_PER_DRAIN:
            batch = self._call("receive", self.sqs.receive_message, QueueUrl=self.url, MaxNumberOfMessages=_BATCH,
                               WaitTimeSeconds=wait, VisibilityTimeout=self.visibility_timeout,
                               AttributeNames=["ApproximateReceiveCount"]).get("Messages", [])
            if not batch:
                break
            received.extend(batch)
            wait = 0
        return received

    def _redrive_policy(self) -> dict[str, Any]:
        attrs = self._call("read the redrive policy of", self.sqs.get_queue_attributes, QueueUrl=self.url,
                           AttributeNames=["RedrivePolicy"]).get("Attributes", {})
        try:
            policy = json.loads(attrs.get("RedrivePolicy") or "{}")
        except ValueError:
            return {}
        return policy if isinstance(policy, dict) else {}

    def max_receive_count(self) -> int | None:
        """The RedrivePolicy's maxReceiveCount (SQS dead-letters a message received that often), None without."""
        try:
            return int(self._redrive_policy()["maxReceiveCount"])
        except (KeyError, TypeError, ValueError):
            return None

    def dead_letter_url(self) -> str:
        """The dead-letter queue named by this queue's RedrivePolicy, or "" when it has none."""
        arn = str(self._redrive_policy().get("deadLetterTargetArn") or "")
        if not arn:
            return ""
        account, name = arn.split(":")[4], arn.split(":")[-1]
        return str(self._call("find the dead-letter queue of", self.sqs.get_queue_url, QueueName=name,
                              QueueOwnerAWSAccountId=account)["QueueUrl"])

    def dead_letter(self, item: Rejected, dlq_url: str) -> None:
        """Move a rejected message to ``dlq_url`` with its reason: send first, then delete, so a failure
        between the two leaves a duplicate in the DLQ rather than losing the message."""
        attributes = {DEAD_LETTER_REASON_ATTRIBUTE: {"DataType": "String", "StringValue": item.reason[:1000]}}
        fifo: dict[str, str] = {}
        if is_fifo(dlq_url):  # a FIFO queue's DLQ is FIFO: it wants a group, and a redelivery dedups
            fifo = {"MessageGroupId": item.group or "pushdeploy-dead-letters",
                    "MessageDeduplicationId": item.message_id}
        self._call("dead-letter", self.sqs.send_message, QueueUrl=dlq_url, MessageBody=item.body or "(empty)",
                   MessageAttributes=attributes, **fifo)
        self._call("delete", self.sqs.delete_message, QueueUrl=self.url, ReceiptHandle=item.receipt_handle)

    def delete(self, items: Sequence[QueuedRequest]) -> None:
        for chunk in _chunks(items):
            entries = [{"Id": str(i), "ReceiptHandle": r.receipt_handle} for i, r in enumerate(chunk)]
            resp = self._call("delete", self.sqs.delete_message_batch, QueueUrl=self.url, Entries=entries)
            _raise_failed("delete", resp, [r.message_id for r in chunk])

    def set_visibility(self, items: Sequence[QueuedRequest], seconds: int) -> None:
        self._change_visibility([i.message_id for i in items], [i.receipt_handle for i in items], seconds)

    def _change_visibility(self, ids: Sequence[str], handles: Sequence[str], seconds: int) -> None:
        for start in range(0, len(handles), _BATCH):
            chunk = handles[start:start + _BATCH]
            entries = [{"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": seconds} for i, h in enumerate(chunk)]
            resp = self._call("change visibility", self.sqs.change_message_visibility_batch, QueueUrl=self.url,
                              Entries=entries)
            _raise_failed("change visibility of", resp, ids[start:start + _BATCH])

    def _call(self, what: str, fn: Callable[..., Any], **kwargs: Any) -> Any:
        try:
            return fn(**kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise QueueError(f"queue {self.url}: {what} failed: {exc}") from exc


def _chunks(items: Sequence[QueuedRequest]) -> Iterable[Sequence[QueuedRequest]]:
    for start in range(0, len(items), _BATCH):
        yield items[start:start + _BATCH]


def _raise_failed(what: str, resp: dict[str, Any], message_ids: Sequence[str]) -> None:
    failed = resp.get("Failed") or []
    if failed:
        ids = ", ".join(f"{message_ids[int(f['Id'])]} ({f.get('Code')})" for f in failed)
        raise QueueError(f"could not {what} messages: {ids}")


class Heartbeat:
    """Keeps the round's held messages invisible while work runs.

    Extends every ``visibility_timeout / 3`` seconds to a full timeout, so two missed beats are
    tolerated; when the process dies the beats stop and the messages come back by themselves.
    """

    def __init__(self, queue: BuildQueue, held: Callable[[], list[QueuedRequest]],
                 log: Callable[[str], None], interval: float | None = None) -> None:
        self.queue = queue
        self.held = held
        self.log = log
        self.interval = interval if interval is not None else max(1.0, queue.visibility_timeout / 3)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="pushdeploy-heartbeat", daemon=True)
        self.beats = 0

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=30)

    def _beat(self) -> None:
        while not self._stop.wait(self.interval):
            items = self.held()
            if not items:
                continue
            try:
                self.queue.set_visibility(items, self.queue.visibility_timeout)
                self.beats += 1
            except QueueError as exc:
                self.log(f"queue: heartbeat failed (messages may be redelivered): {exc}")
