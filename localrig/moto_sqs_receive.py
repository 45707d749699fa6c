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
in the moto server child by ``localrig/moto_server.py``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

_RECEIVE = threading.Lock()
_IDLE_PAUSE = 0.05  # between attempts while messages are visible but every one is in a group in flight


def install() -> None:
    from moto.sqs.models import SQSBackend

    original = SQSBackend.receive_message
    if getattr(original, "pushdeploy_one_at_a_time", False):
        return

    def receive_message(self: Any, queue_name: str, count: int, wait_seconds_timeout: int, visibility_timeout: int,
                        message_attribute_names: list[str] | None = None) -> list[Any]:
        deadline = time.monotonic() + int(wait_seconds_timeout or 0)
        queue = self.get_queue(queue_name)
        while True:
            with _RECEIVE:
                result = original(self, queue_name, count, 0, visibility_timeout, message_attribute_names)
            remaining = deadline - time.monotonic()
            if result or remaining <= 0:
                return list(result)
            if queue.messages:  # visible, but locked by groups in flight: moto's wait would return at once
                threading.Event().wait(min(_IDLE_PAUSE, remaining))
            else:
                queue.wait_for_messages(min(1, remaining))

    receive_message.pushdeploy_one_at_a_time = True  # type: ignore[attr-defined]
    SQSBackend.receive_message = receive_message  # type: ignore[method-assign]
