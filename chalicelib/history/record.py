"""A BuildResult as a build history record (the JSON shape docs/api.md "Build history" documents), and as the
DynamoDB item that stores it.

The item keeps the record as one JSON string beside its keys: the routes answer it as it was written, with no
attribute-by-attribute conversion (and no Decimal for the step seconds), and a record is bounded by the SNS
message it came from (256 KB, under DynamoDB's 400 KB item limit).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Optional

from chalicelib.contracts import BuildResult, parse_timestamp, utc_now
from chalicelib.notify.console_links import log_url

FEED = "builds"  # the one partition of the "recent" index: every pipeline's builds, newest first
KEEP_SECONDS = 90 * 86400  # TTL: a quarter of history is plenty to answer "what happened"


def build_id_of(result: BuildResult) -> str:
    """The result's build_id; for an agent that predates it, an id derived from what identifies the build, so a
    redelivered copy of the same result still maps to the same record."""
    if result.build_id:
        return result.build_id
    seed = "\n".join([result.pipeline, result.started_at, result.finished_at, result.action, result.outcome])
    return "legacy-" + hashlib.sha256(seed.encode("utf-8", "replace")).hexdigest()[:32]


def sort_key(started_at: str, build_id: str) -> str:
    """Sorts by start time (ISO-8601 UTC strings of one format sort as times), ties broken by the id."""
    return f"{started_at}#{build_id}"


def to_record(result: BuildResult, recorded_at: Optional[str] = None) -> dict[str, Any]:
    """The record the routes answer: every key present, absent values null or []."""
    log = result.log
    return {
        "build_id": build_id_of(result), "pipeline": result.pipeline, "repository": result.repository,
        "branch": result.branch, "action": result.action, "trigger": result.trigger,
        "requested_by": result.requested_by, "outcome": result.outcome, "commit": result.commit,
        "commits": [{"sha": c.sha, "subject": c.subject, "author": c.author} for c in result.commits],
        "image": None if result.image is None else {"reference": result.image.reference, "tag": result.image.tag,
                                                    "digest": result.image.digest},
        "services": [{"cluster": s.cluster, "service": s.service, "before": s.previous_task_definition,
                      "after": s.new_task_definition} for s in result.services],
        "started_at": result.started_at, "finished_at": result.finished_at,
        "duration_seconds": result.duration_seconds,
        "steps": [{"name": s.name, "started_at": s.started_at, "seconds": s.seconds, "ok": s.ok}
                  for s in result.steps],
        "error": result.error,
        "log": None if log is None else {"group": log.group, "stream": log.stream, "region": log.region,
                                         "url": log_url(log, log.region)},
        "builder_instance_id": result.builder_instance_id,
        "recorded_at": recorded_at or utc_now(),
    }


def to_item(record: dict[str, Any]) -> dict[str, Any]:
    """The DynamoDB item (low-level attribute values) for a record."""
    expires = int(parse_timestamp(record["started_at"]).timestamp()) + KEEP_SECONDS
    return {
        "pipeline": {"S": record["pipeline"]},
        "sort_key": {"S": sort_key(record["started_at"], record["build_id"])},
        "build_id": {"S": record["build_id"]},
        "feed": {"S": FEED},
        "outcome": {"S": record["outcome"]},
        "expires_at": {"N": str(expires)},
        "record": {"S": json.dumps(record, sort_keys=True, separators=(",", ":"))},
    }


def from_item(item: dict[str, Any]) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(item["record"]["S"])
    return record
