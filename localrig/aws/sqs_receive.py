"""Rig fidelity fix: SQS hands a FIFO message group to one consumer at a time; moto's server did not, under
concurrent receives.

moto answers requests in threads, and its ``receive_message`` reads which message groups are in flight and
then marks messages received, with nothing keeping a second receive out in between. Measured with 8 consumers
on a FIFO queue of 50 groups (4 messages each, none deleted): in 5 runs, 6 to 24 groups were handed to two
consumers at once, and twice a message was delivered again while in flight. A pool of builders on the rig
would then build one pipeline on two builders at once, which SQS never does; the pool's tests must prove the
agent right, not moto wrong.

``install`` makes each receive attempt (moto's own code, with WaitTimeSeconds 0) run under one lock, and does
a long poll's waiting outside it, so one builder's 20-second long poll never holds the others back. Installed
in the moto server child by ``localrig/aws/server.py``.

It also honours a FIFO receive's ``ReceiveRequestAttemptId``, which moto ignores: SQS answers a receive retried
with the same id within five minutes with the messages and receipt handles it gave the first time, while none
of them was deleted or had its visibility changed (and restarts their visibility timeout). Without it, a
receive whose answer is lost leaves its messages, and their whole message group, in flight for the visibility
timeout, and the retry finds nothing.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

_RECEIVE = threading.Lock()
_IDLE_PAUSE = 0.05  # between attempts while messages are visible but every one is in a group in flight
ATTEMPT_SECONDS = 300  # how long SQS remembers a ReceiveRequestAttemptId
_request = threading.local()  # the receive request's ReceiveRequestAttemptId, from the response layer


@dataclass
class _Attempt:
    expires: float
    answer: list[Any]  # the messages as moto returned them (copies, with their receipt handles)
    state: dict[str, tuple[str, float]]  # message id -> (receipt handle, visible_at) of the live message


_attempts: dict[tuple[str, str], _Attempt] = {}  # (queue name, attempt id) -> the receive it answered


def install() -> None:
    _install_one_at_a_time()
    _install_attempt_ids()


def _install_attempt_ids() -> None:
    from moto.sqs.responses import SQSResponse

    original = SQSResponse.receive_message
    if getattr(original, "pushdeploy_attempt_ids", False):
        return

    def receive_message(self: Any) -> Any:
        _request.attempt = self._get_param("ReceiveRequestAttemptId") or None
        try:
            return original(self)
        finally:
            _request.attempt = None

    receive_message.pushdeploy_attempt_ids = True  # type: ignore[attr-defined]
    SQSResponse.receive_message = receive_message  # type: ignore[method-assign]


def _repeat(queue: Any, key: tuple[str, str], visibility_timeout: int) -> list[Any] | None:
    """The answer an earlier receive with this attempt id gave, if SQS would give it again (call under the receive
    lock). moto answers with copies; what must be unchanged is the queue's own message."""
    now = time.monotonic()
    for stale in [k for k, a in _attempts.items() if a.expires < now]:
        del _attempts[stale]
    attempt = _attempts.get(key)
    if attempt is None:
        return None
    live = {m.id: m for m in queue._messages if m.id in attempt.state}
    if len(live) != len(attempt.state) or any(
            (m.receipt_handle, m.visible_at) != attempt.state[m.id] for m in live.values()):
        del _attempts[key]
        return None
    for message in live.values():
        message.change_visibility(visibility_timeout)
    attempt.state = {m.id: (m.receipt_handle, m.visible_at) for m in live.values()}
    return attempt.answer


def _remember(queue: Any, key: tuple[str, str], answer: list[Any]) -> None:
    if answer:
        given = {m.id for m in answer}
        _attempts[key] = _Attempt(time.monotonic() + ATTEMPT_SECONDS, answer,
                                  {m.id: (m.receipt_handle, m.visible_at) for m in queue._messages if m.id in given})


def _install_one_at_a_time() -> None:
    from moto.sqs.models import SQSBackend

    original = SQSBackend.receive_message
    if getattr(original, "pushdeploy_one_at_a_time", False):
        return

    def receive_message(self: Any, queue_name: str, count: int, wait_seconds_timeout: int, visibility_timeout: int,
                        message_attribute_names: list[str] | None = None) -> list[Any]:
        deadline = time.monotonic() + int(wait_seconds_timeout or 0)
        queue = self.get_queue(queue_name)
        attempt = getattr(_request, "attempt", None)
        key = (queue_name, attempt) if attempt and queue.fifo_queue else None
        while True:
            with _RECEIVE:
                again = _repeat(queue, key, visibility_timeout) if key else None
                if again is not None:
                    return again
                result = original(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
                if key:
                    _remember(queue, key, list(result))
            remaining = deadline - time.monotonic()
            if result or remaining <= 0:
                return list(result)
            if queue.messages:  # visible, but locked by groups in flight: moto's wait would return at once
                threading.Event().wait(min(_IDLE_PAUSE, remaining))
            else:
                queue.wait_for_messages(min(1, remaining))

    receive_message.pushdeploy_one_at_a_time = True  # type: ignore[attr-defined]
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
