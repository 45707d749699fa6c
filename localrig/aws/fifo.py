"""Rig fidelity fix: FIFO deduplication lasts five minutes from the first send, as in SNS and SQS.

SQS drops a message sent to a FIFO queue with a MessageDeduplicationId it accepted in the last five minutes,
*whether or not that first message has since been received and deleted*; an SNS FIFO topic drops a duplicate
publish the same way, before any subscriber sees it. moto compares a new message only with the messages still in
the queue, and its topics do not deduplicate at all. So in moto a push delivered twice (a webhook retry, a Lambda
retry of the request function) after its first build finished was built again, and the standard wake queue got
two wakes; on AWS neither happens. The builder pool relies on this window (issue 11): the rig must show what AWS
does, no more and no less.

``install`` keeps, per FIFO queue and per FIFO topic, the deduplication ids of the last five minutes and drops a
send or publish that repeats one. A message moved to a dead-letter queue by redrive is not a send (it was received
before) and is never dropped. The scope is the queue, SQS's default and what infra/pipeline.yaml uses; a queue
with DeduplicationScope=messageGroup is not modelled (moto itself deduplicates across the queue).

Installed in the moto server child by ``localrig/aws/server.py`` (``install()``).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

WINDOW_MS = 5 * 60 * 1000  # SQS and SNS: five minutes


class DedupWindow:
    """The deduplication ids one queue or topic accepted in the last five minutes."""

    def __init__(self) -> None:
        self.first_seen: dict[str, int] = {}

    def accept(self, key: str, now_ms: int) -> bool:
        """True (and remember it) for a key not accepted within the window; False for a duplicate."""
        self.first_seen = {k: t for k, t in self.first_seen.items() if now_ms - t < WINDOW_MS}
        if key in self.first_seen:
            return False
        self.first_seen[key] = now_ms
        return True


def _window(owner: Any) -> DedupWindow:
    window = owner.__dict__.get("_pushdeploy_dedup")
    if window is None:
        window = owner.__dict__["_pushdeploy_dedup"] = DedupWindow()
    return window


def _content_based(value: Any) -> bool:
    return str(value).lower() == "true"


def install() -> None:
    _install_sqs()
    _install_sns()


def _install_sqs() -> None:
    from moto.sqs.models import Queue

    original = Queue.add_message
    if getattr(original, "_pushdeploy_patched", False):
        return

    def add_message(self: Any, message: Any) -> None:
        fresh_send = self.fifo_queue and message.deduplication_id and not message.approximate_receive_count
        if fresh_send and not _window(self).accept(message.deduplication_id, int(message.sent_timestamp)):
            return  # accepted by SQS, never delivered
        original(self, message)

    add_message._pushdeploy_patched = True  # type: ignore[attr-defined]
    Queue.add_message = add_message  # type: ignore[method-assign]


def _install_sns() -> None:
    from moto.moto_api._internal import mock_random
    from moto.sns.models import Topic

    original = Topic.publish
    if getattr(original, "_pushdeploy_patched", False):
        return

    def publish(self: Any, message: str, subject: str | None = None, message_attributes: Any = None,
                group_id: str | None = None, deduplication_id: str | None = None,
                message_structure: str | None = None) -> str:
        if self.fifo_topic:
            if not deduplication_id and _content_based(self.content_based_deduplication):
                deduplication_id = hashlib.sha256(message.encode("utf-8")).hexdigest()
            if deduplication_id and not _window(self).accept(deduplication_id, int(time.time() * 1000)):
                return str(mock_random.uuid4())  # SNS answers with a message id and delivers nothing
        return original(self, message, subject=subject, message_attributes=message_attributes, group_id=group_id,
                        deduplication_id=deduplication_id, message_structure=message_structure)

    publish._pushdeploy_patched = True  # type: ignore[attr-defined]
    Topic.publish = publish  # type: ignore[method-assign]
