"""What a build request carries on a FIFO topic and queue: its message group and its deduplication id.

The message group is the pipeline: SQS hands out one group's messages to one consumer at a time, so two
builders never build one pipeline at once, and a pipeline's requests stay in order. The deduplication id
is the push itself (event id, ref, action), so a publisher's retry of the same push within SQS's
five-minute window is dropped instead of queued twice, while a rollback and a build of one event differ.

A standard (not yet migrated) topic takes neither attribute: publishers ask ``is_fifo`` first.
"""

from __future__ import annotations

import hashlib
import re

from chalicelib.contracts import BuildRequest

FIFO_SUFFIX = ".fifo"
MAX_GROUP_ID_CHARS = 128
# SQS's rule for MessageGroupId and MessageDeduplicationId: alphanumerics and ASCII punctuation, no space.
_SQS_ID = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~]{1,128}", re.ASCII)
HASHED_PREFIX = "p-"
HASHED_CHARS = 40
# The seed's plain "build" names no pipeline: it means every pipeline, so all such requests share one group.
EVERY_PIPELINE_GROUP = "pushdeploy-every-pipeline"
BRANCH_REF_PREFIX = "refs/heads/"


def is_sqs_id(text: str) -> bool:
    """True when SQS accepts ``text`` as a message group or deduplication id."""
    return bool(_SQS_ID.fullmatch(text))


def message_group_id(request: BuildRequest) -> str:
    """The pipeline id when SQS accepts it as is (readable in the console and the agent's heartbeat), else a
    hash of it. A pipeline id always holds '/', a hashed one never does, so the two kinds cannot collide."""
    pipeline = request.pipeline
    if pipeline is None:
        return EVERY_PIPELINE_GROUP
    if is_sqs_id(pipeline):
        return pipeline
    return HASHED_PREFIX + hashlib.sha256(pipeline.encode("utf-8", "surrogatepass")).hexdigest()[:HASHED_CHARS]


def deduplication_id(request: BuildRequest) -> str:
    """Same push, same id: the event that carried it, the ref it moved, and what was asked of it."""
    ref = BRANCH_REF_PREFIX + request.branch if request.branch else ""
    text = f"{request.event_id}\n{ref}\n{request.action}"
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def is_fifo(arn_or_url: str) -> bool:
    """True for a FIFO topic ARN or queue ARN/URL: AWS requires their names to end in ``.fifo``."""
    return arn_or_url.rstrip("/").endswith(FIFO_SUFFIX)


def publish_options(topic_arn: str, request: BuildRequest) -> dict[str, str]:
    """The extra Publish parameters ``request`` needs on ``topic_arn``: none on a standard topic."""
    if not is_fifo(topic_arn):
        return {}
    return {"MessageGroupId": message_group_id(request), "MessageDeduplicationId": deduplication_id(request)}
