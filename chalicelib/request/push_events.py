"""Turn CodeCommit push notifications into build requests, one per pushed branch reference.

Two event shapes arrive: the repository trigger (``Records[].codecommit.references[]``, several
references and records per event) and EventBridge "CodeCommit Repository State Change". A bad
reference is reported and skipped while the good references of the same event still build,
because one malformed entry must not cost another branch its deploy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

from chalicelib.arns import ArnError, parse_arn
from chalicelib.contracts import BuildRequest, ContractError, show, utc_now

BRANCH_PREFIX = "refs/heads/"
# The record CodeCommit sends for the console's "Test trigger" button (TestRepositoryTriggers): the usual
# shape, with the last commit's data or generated sample data, so it must never build.
TRIGGER_TEST_EVENT = "TriggerEventTest"
TRIGGER_TEST_REASON = "CodeCommit console test event: the trigger works; nothing built"
STATE_CHANGE_EVENTS = ("referenceCreated", "referenceUpdated")
STATE_CHANGE_PATTERN = {
    "source": ["aws.codecommit"],
    "detail-type": ["CodeCommit Repository State Change"],
    "detail": {"event": list(STATE_CHANGE_EVENTS), "referenceType": ["branch"]},
}


class PushEventError(ValueError):
    """The event as a whole has the wrong shape; ``where`` names the offending key."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where = where


@dataclass(frozen=True)
class Skipped:
    """A reference that does not build, and why; ``malformed`` separates bad input from policy."""

    where: str
    reason: str
    malformed: bool = False


@dataclass
class Pushes:
    requests: list[BuildRequest] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


def _validated(request: BuildRequest) -> BuildRequest:
    """Round-trip through the contract, so nothing is published that the agent would refuse."""
    return BuildRequest.from_dict(json.loads(request.to_json()))


def _label(value: Any) -> str:
    """A reference name for a log line: as is when short and printable, else quoted and bounded, so a
    name cannot forge log lines or fill the log."""
    return value if isinstance(value, str) and value.isprintable() and len(value) <= 300 else show(value)


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PushEventError(where, f"expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise PushEventError(where, "expected a non-empty list")
    return value


def read_trigger_event(event: Any) -> Pushes:
    """A CodeCommit repository-trigger event: every record, every reference in it."""
    records = _list(_object(event, "(event)").get("Records"), "Records")
    pushes = Pushes()
    for index, record in enumerate(records):
        _read_record(_object(record, f"Records[{index}]"), f"Records[{index}]", pushes)
    return pushes


def _read_record(record: Mapping[str, Any], where: str, pushes: Pushes) -> None:
    if record.get("eventName") == TRIGGER_TEST_EVENT:
        trigger = record.get("eventTriggerName")
        named = f" (trigger {trigger[:100]!r})" if isinstance(trigger, str) else ""
        pushes.skipped.append(Skipped(f"{where}{named}", TRIGGER_TEST_REASON))
        return
    try:
        repository = parse_arn(record.get("eventSourceARN"), "codecommit").resource
    except ArnError as exc:
        pushes.skipped.append(Skipped(f"{where}.eventSourceARN", str(exc), malformed=True))
        return
    event_id = record.get("eventId") if isinstance(record.get("eventId"), str) else None
    codecommit = record.get("codecommit")
    references = codecommit.get("references") if isinstance(codecommit, Mapping) else None
    if not isinstance(references, list) or not references or not event_id:
        missing = "eventId" if not event_id else "codecommit.references"
        pushes.skipped.append(Skipped(f"{where}.{missing}", "missing or empty", malformed=True))
        return
    pusher = record.get("userIdentityARN") if isinstance(record.get("userIdentityARN"), str) else None
    for ref_index, reference in enumerate(references):
        ref_where = f"{where}.codecommit.references[{ref_index}]"
        deleted = reference.get("deleted") if isinstance(reference, Mapping) else None
        if not isinstance(reference, Mapping):
            pushes.skipped.append(Skipped(ref_where, "expected an object", malformed=True))
        elif deleted is not None and not isinstance(deleted, bool):
            pushes.skipped.append(Skipped(f"{ref_where}.deleted", f"expected true or false, got {show(deleted)}",
                                          malformed=True))
        elif deleted:
            pushes.skipped.append(Skipped(f"{ref_where} ({_label(reference.get('ref'))})", "reference deleted"))
        else:
            _add(pushes, ref_where, repository, reference.get("ref"), reference.get("commit"),
                 "codecommit-trigger", event_id, pusher)


def read_state_change_event(event: Any) -> Pushes:
    """An EventBridge "CodeCommit Repository State Change" event (one reference)."""
    data = _object(event, "(event)")
    if data.get("source") != "aws.codecommit":
        raise PushEventError("source", f"expected 'aws.codecommit', got {show(data.get('source'))}")
    detail = _object(data.get("detail"), "detail")
    event_id = data.get("id") if isinstance(data.get("id"), str) and data.get("id") else None
    if event_id is None:
        raise PushEventError("id", "missing event id")
    pushes = Pushes()
    kind = detail.get("event")
    if kind not in STATE_CHANGE_EVENTS:
        pushes.skipped.append(Skipped(f"detail.event ({_label(detail.get('referenceFullName'))})",
                                     f"{show(kind)} never builds"))
        return pushes
    repository = detail.get("repositoryName")
    if not isinstance(repository, str) or not repository:
        raise PushEventError("detail.repositoryName", "missing")
    pusher = detail.get("callerUserArn") if isinstance(detail.get("callerUserArn"), str) else None
    _add(pushes, "detail", repository, detail.get("referenceFullName"), detail.get("commitId"),
         "eventbridge", event_id, pusher)
    return pushes


def _add(pushes: Pushes, where: str, repository: str, ref: Any, commit: Any, source: str,
         event_id: str, pusher: Optional[str]) -> None:
    if not isinstance(ref, str) or not ref:
        pushes.skipped.append(Skipped(f"{where}.ref", "missing reference name", malformed=True))
        return
    if not ref.startswith(BRANCH_PREFIX):
        pushes.skipped.append(Skipped(f"{where} ({_label(ref)})", "not a branch (tags and other refs never build)"))
        return
    if commit is None:
        pushes.skipped.append(Skipped(f"{where} ({_label(ref)})", "commit: missing", malformed=True))
        return
    if not isinstance(commit, str):  # checked before the request is built: to_json would copy any nesting
        pushes.skipped.append(Skipped(f"{where} ({_label(ref)})", f"commit: expected a string, got {show(commit)}",
                                      malformed=True))
        return
    request = BuildRequest(repository, ref[len(BRANCH_PREFIX):], commit, source, event_id, utc_now(), pusher)
    try:
        pushes.requests.append(_validated(request))
    except ContractError as exc:
        pushes.skipped.append(Skipped(f"{where} ({_label(ref)})", str(exc), malformed=True))
