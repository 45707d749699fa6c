"""The messages that travel between the Lambda side and the builder agent.

Defined once here because both sides import them: the request Lambda writes a
``BuildRequest`` to the request topic (and so to the build queue); the agent writes
``BuildResult`` and ``EndOfRun`` to the close topic, which the close and notify Lambdas read.

Every message is a JSON object carrying ``type`` and ``version`` so that either side can
refuse what it does not understand with an error that names the field, instead of acting
on a guess. The seed's plain-text ``build`` and ``stop`` messages are still understood.
"""

from __future__ import annotations

import json
import re
import reprlib
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Optional, Union

# Version 2 added actions other than a plain build (rollback, forced build), hosted-git triggers and
# ``owner/name`` repositories. A message is written with the LOWEST version that carries its meaning, so a
# CodeCommit push still reaches a version-1 agent; a version-1 agent refuses a version-2 message with
# "version 2 is newer than this code understands (1)" (it is dead-lettered with that reason and announced),
# instead of running a rollback as a build.
SCHEMA_VERSION = 2

TYPE_BUILD_REQUEST = "pushdeploy.build_request"
TYPE_BUILD_RESULT = "pushdeploy.build_result"
TYPE_END_OF_RUN = "pushdeploy.end_of_run"
TYPE_ALERT = "pushdeploy.alert"

LEGACY_BUILD = "build"
LEGACY_STOP = "stop"

OUTCOMES = ("succeeded", "failed", "rolled_back", "skipped")
SOURCES = ("codecommit-trigger", "eventbridge", "legacy", "manual", "webhook", "api")
V1_SOURCES = ("codecommit-trigger", "eventbridge", "legacy", "manual")
# What a request asks for; an agent refuses an action it does not know (ContractError on "action").
ACTION_BUILD = "build"
ACTION_ROLLBACK = "rollback"
ACTIONS = (ACTION_BUILD, ACTION_ROLLBACK)
# Where a request came from, for people (results and notifications say it); absent in version 1.
TRIGGERS = ("codecommit", "github", "gitlab", "bitbucket", "manual")
_TRIGGER_OF_SOURCE = {"codecommit-trigger": "codecommit", "eventbridge": "codecommit", "legacy": "codecommit",
                      "manual": "manual", "api": "manual"}
MAX_ROLLBACK_TO_CHARS = 2048  # a task definition ARN or family:revision
ALERT_KINDS = ("dead_letter", "stale_request", "builder_stopped")

# Message attributes on a build request in the dead-letter queue. The agent sets REASON when it
# dead-letters a request it cannot act on; the reconcile sets NOTIFIED on the copy it keeps after
# telling the team, so each dead letter is announced once.
DEAD_LETTER_REASON_ATTRIBUTE = "pushdeploy-reason"
DEAD_LETTER_NOTIFIED_ATTRIBUTE = "pushdeploy-notified"

_COMMIT_RE = re.compile(r"[0-9a-f]{40}")
_MAX_ERROR_CHARS = 1000

# Names as the git hosts allow them, so nothing outside these limits is published or acted on (a branch
# name ends up in the SNS Subject, a log line, a Slack header). Repository: CodeCommit's rule, 1-100 of
# letters, digits, '.', '_', '-'; or a hosted path (GitHub ``owner/name``, GitLab ``group/sub/project``,
# Bitbucket ``workspace/repo``): such segments joined by '/', at most 255 characters. Branch:
# CodeCommit's 1-256 characters plus git's check-ref-format rules that matter downstream: no control
# characters (C0, DEL, C1, line/paragraph separators) or lone
# surrogates (not UTF-8, so not sendable as an SNS attribute), no space or
# ~^:?*[\, no '..', '@{', '//', no leading/trailing '/' or '.', no component starting with '.' or ending
# with '.lock'. docs/lambda.md "Input limits" lists them for operators.
MAX_REPOSITORY_CHARS = 100
MAX_HOSTED_REPOSITORY_CHARS = 255
MAX_BRANCH_CHARS = 256
MAX_EVENT_ID_CHARS = 256  # event and message ids are UUID-sized
MAX_PUSHED_BY_CHARS = 2048  # IAM's maximum ARN length
_REPOSITORY_RE = re.compile(r"[A-Za-z0-9._-]{1,100}")
_HOSTED_REPOSITORY_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]*(?:/[A-Za-z0-9_-][A-Za-z0-9._-]*)+")
_BRANCH_FORBIDDEN_RE = re.compile(
    r"[\x00-\x20\x7f-\x9f\u2028\u2029\ud800-\udfff~^:?*\[\\]|\.\.|@\{|//|\A[/.]|[/.]\Z|/\.|\.lock(?:/|\Z)")



class _Bounded(reprlib.Repr):
    def repr_int(self, x: int, level: int) -> str:
        """repr() of an int over 4,300 digits raises ValueError; its size is what matters here."""
        return super().repr_int(x, level) if x.bit_length() < 10_000 else f"<int of {x.bit_length()} bits>"


_SHOW = _Bounded()
_SHOW.maxstring = _SHOW.maxother = 80
_SHOW.maxlevel = 3


class ContractError(ValueError):
    """A message that does not match its contract; ``field`` names the offending key."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"{field_name}: {problem}")
        self.field = field_name
        self.problem = problem


def show(value: Any) -> str:
    """``repr`` bounded in length and depth: error messages quote the input, and the input may be huge
    or nested a thousand deep."""
    try:
        return _SHOW.repr(value)
    except (RecursionError, ValueError):
        return f"<{type(value).__name__}>"


def utc_now() -> str:
    """ISO-8601 UTC timestamp with a Z suffix, the one time format every message uses."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def pipeline_id(repository: str, branch: str) -> str:
    """The pipeline key: also usable as an SQS FIFO MessageGroupId (<=128 chars)."""
    return f"{repository}/{branch}"


# ---------------------------------------------------------------- field checks


def _req_str(data: Mapping[str, Any], key: str, prefix: str = "") -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ContractError(prefix + key, "required non-empty string")
    return value


def _opt_str(data: Mapping[str, Any], key: str, prefix: str = "") -> Optional[str]:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ContractError(prefix + key, f"expected a string, got {type(value).__name__}")
    return value


def _opt_bool(data: Mapping[str, Any], key: str, prefix: str = "") -> bool:
    """Absent or null reads as False, so messages written before the field existed still parse."""
    value = data.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ContractError(prefix + key, f"expected true or false, got {show(value)}")
    return value


def _bounded(value: Optional[str], name: str, max_chars: int) -> Optional[str]:
    if value is not None and len(value) > max_chars:
        raise ContractError(name, f"expected at most {max_chars} characters, got {len(value)}")
    return value


def _commit(value: Any, name: str) -> str:
    if not isinstance(value, str) or not _COMMIT_RE.fullmatch(value):
        raise ContractError(name, f"expected a 40-character lowercase hex commit id, got {show(value)}")
    return value


def repository_problem(name: str) -> Optional[str]:
    """Why ``name`` is neither a CodeCommit repository name nor a hosted ``owner/name`` path, or None."""
    if "/" in name:
        if (len(name) > MAX_HOSTED_REPOSITORY_CHARS or not _HOSTED_REPOSITORY_RE.fullmatch(name)
                or name.endswith(".git")):
            return (f"expected a hosted repository path like owner/name (segments of letters, digits, '.', '_' or "
                    f"'-', not starting with '.', at most {MAX_HOSTED_REPOSITORY_CHARS} characters, not ending in "
                    f".git), got {show(name)}")
        return None
    if not _REPOSITORY_RE.fullmatch(name) or name.endswith(".git"):
        return (f"expected 1-{MAX_REPOSITORY_CHARS} letters, digits, '.', '_' or '-', not ending in .git "
                f"(CodeCommit's rule), or a hosted path like owner/name, got {show(name)}")
    return None


def branch_problem(name: str) -> Optional[str]:
    """Why ``name`` is not a branch name git and CodeCommit accept, or None."""
    if not 1 <= len(name) <= MAX_BRANCH_CHARS:
        return f"expected 1-{MAX_BRANCH_CHARS} characters, got {len(name)}"
    if _BRANCH_FORBIDDEN_RE.search(name) or name == "@":
        return f"not a valid git branch name (control characters, spaces or git's forbidden forms): {show(name)}"
    return None


def _name(data: Mapping[str, Any], key: str, problem: Any) -> str:
    value = _req_str(data, key)
    why = problem(value)
    if why:
        raise ContractError(key, why)
    return value


def parse_timestamp(text: str) -> datetime:
    """An ISO-8601 timestamp that names its UTC offset (``Z`` or ``+hh:mm``): ValueError otherwise, because
    a naive time cannot be compared with an aware one, and "local time" means nothing between machines."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"no UTC offset in {show(text)}")
    return moment


def _timestamp(data: Mapping[str, Any], key: str, prefix: str = "", required: bool = True) -> Optional[str]:
    value = _req_str(data, key, prefix) if required else _opt_str(data, key, prefix)
    if value is None:
        return None
    try:
        parse_timestamp(value)
    except ValueError:
        raise ContractError(prefix + key, f"expected an ISO-8601 timestamp with Z or a UTC offset, "
                                          f"got {show(value)}") from None
    return value


def _check_envelope(data: Any, expected_type: str) -> Mapping[str, Any]:
    if not isinstance(data, Mapping):
        raise ContractError("(message)", f"expected a JSON object, got {type(data).__name__}")
    if data.get("type") != expected_type:
        raise ContractError("type", f"expected {expected_type!r}, got {show(data.get('type'))}")
    version = data.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ContractError("version", f"expected an integer, got {show(version)}")
    if version > SCHEMA_VERSION:
        raise ContractError("version", f"version {version} is newer than this code understands ({SCHEMA_VERSION})")
    return data


def _dump(obj: Any, type_name: str, version: int = 1) -> str:
    body = {"type": type_name, "version": version}
    body.update(asdict(obj))
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def _loads(text: str) -> Any:
    """JSON to Python; nesting too deep for the parser (RecursionError) is bad input like any other."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ContractError("(message)", "not JSON this code accepts: nested too deeply") from None
    except (TypeError, ValueError) as exc:
        raise ContractError("(message)", f"not JSON: {str(exc)[:200]}") from None


# ---------------------------------------------------------------- build request


@dataclass(frozen=True)
class BuildRequest:
    """Ask for a build of a branch. ``commit`` is what was pushed; the agent builds the branch
    head at fetch time, which contains it (and any later push), so many requests make one build.

    ``repository``/``branch`` are None only for the seed's legacy ``build`` message, which means
    "build every configured pipeline's branch head".

    Version 2 fields (absent in version 1, read as the defaults): ``action`` (build or rollback),
    ``trigger`` (who delivered it: codecommit, github, gitlab, bitbucket, manual), ``force`` (deploy even
    when the image is unchanged), ``pin`` (True: build exactly ``commit``, not the branch head; a manual
    build of a named commit) and ``rollback_to`` (a task definition revision; None: the previous one).
    ``pushed_by`` is whoever pushed or asked (an IAM ARN, a git host user name).
    """

    repository: Optional[str]
    branch: Optional[str]
    commit: Optional[str]
    source: str
    event_id: str
    requested_at: str
    pushed_by: Optional[str] = None
    action: str = ACTION_BUILD
    trigger: Optional[str] = None
    force: bool = False
    pin: bool = False
    rollback_to: Optional[str] = None

    def __post_init__(self) -> None:
        if self.action not in ACTIONS:
            raise ContractError("action", _unknown_action(self.action))
        if self.trigger is not None and self.trigger not in TRIGGERS:
            raise ContractError("trigger", f"expected one of {', '.join(TRIGGERS)}, got {show(self.trigger)}")
        if self.pin and self.commit is None:
            raise ContractError("pin", "a pinned build needs a commit")

    @property
    def triggered_by(self) -> str:
        """``trigger``, or what a version-1 message's ``source`` implies."""
        return self.trigger or _TRIGGER_OF_SOURCE.get(self.source, "codecommit")

    @property
    def version(self) -> int:
        """The lowest schema version that carries this request's meaning (see SCHEMA_VERSION)."""
        v1 = (self.action == ACTION_BUILD and not self.force and not self.pin and self.rollback_to is None
              and self.source in V1_SOURCES and (self.repository is None or "/" not in self.repository)
              and self.triggered_by in ("codecommit", "manual"))
        return 1 if v1 else 2

    @property
    def pipeline(self) -> Optional[str]:
        if self.repository is None or self.branch is None:
            return None
        return pipeline_id(self.repository, self.branch)

    @property
    def is_legacy(self) -> bool:
        return self.source == "legacy"

    def to_json(self) -> str:
        return _dump(self, TYPE_BUILD_REQUEST, self.version)

    def message_attributes(self) -> dict[str, dict[str, str]]:
        """SNS message attributes so subscriptions can filter by repository, branch and action."""
        attrs = {"type": {"DataType": "String", "StringValue": TYPE_BUILD_REQUEST}}
        if self.action != ACTION_BUILD:
            attrs["action"] = {"DataType": "String", "StringValue": self.action}
        if self.repository:
            attrs["repository"] = {"DataType": "String", "StringValue": self.repository}
        if self.branch:
            attrs["branch"] = {"DataType": "String", "StringValue": self.branch}
        return attrs

    @classmethod
    def from_dict(cls, data: Any) -> BuildRequest:
        data = _check_envelope(data, TYPE_BUILD_REQUEST)
        source = _req_str(data, "source")
        if source not in SOURCES:
            raise ContractError("source", f"expected one of {', '.join(SOURCES)}, got {show(source)}")
        action = _opt_str(data, "action") or ACTION_BUILD
        if action not in ACTIONS:
            raise ContractError("action", _unknown_action(action))
        trigger = _opt_str(data, "trigger")
        if trigger is not None and trigger not in TRIGGERS:
            raise ContractError("trigger", f"expected one of {', '.join(TRIGGERS)}, got {show(trigger)}")
        commit = data.get("commit")
        return cls(
            repository=_name(data, "repository", repository_problem),
            branch=_name(data, "branch", branch_problem),
            commit=None if commit is None else _commit(commit, "commit"),
            source=source,
            event_id=_bounded(_req_str(data, "event_id"), "event_id", MAX_EVENT_ID_CHARS) or "",
            requested_at=_timestamp(data, "requested_at") or "",
            pushed_by=_bounded(_opt_str(data, "pushed_by"), "pushed_by", MAX_PUSHED_BY_CHARS),
            action=action,
            trigger=trigger,
            force=_opt_bool(data, "force"),
            pin=_opt_bool(data, "pin"),
            rollback_to=_bounded(_opt_str(data, "rollback_to"), "rollback_to", MAX_ROLLBACK_TO_CHARS),
        )

    @classmethod
    def legacy(cls, event_id: str = "legacy") -> BuildRequest:
        return cls(None, None, None, "legacy", event_id, utc_now())


def _unknown_action(action: Any) -> str:
    return (f"unknown action {show(action)}: this agent knows {', '.join(ACTIONS)} (a newer pushdeploy sent it; "
            "upgrade the agent)")


def parse_build_request(text: str, event_id: str = "legacy") -> BuildRequest:
    """Read a request-topic message: a versioned JSON request or the seed's plain ``build``."""
    if isinstance(text, str) and text.strip() == LEGACY_BUILD:
        return BuildRequest.legacy(event_id)
    return BuildRequest.from_dict(_loads(text))


# ---------------------------------------------------------------- build result


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    subject: str = ""
    author: str = ""


@dataclass(frozen=True)
class ImageInfo:
    """The pushed image: ``reference`` is ``registry/repository:tag``; digest ``sha256:...``."""

    reference: str
    tag: str
    digest: Optional[str] = None


@dataclass(frozen=True)
class ServiceDeployment:
    cluster: str
    service: str
    previous_task_definition: Optional[str]
    new_task_definition: Optional[str]


@dataclass(frozen=True)
class StepTiming:
    """One step of a build (source, login, build, push, register, update, rollout_wait, ...): when it started and
    how long it took, so history and the dashboard can draw the build as bars."""

    name: str
    started_at: str
    seconds: float
    ok: bool = True


@dataclass(frozen=True)
class LogLocation:
    group: str
    stream: str
    region: Optional[str] = None


@dataclass(frozen=True)
class BuildResult:
    """What one build did, in every outcome: the notify Lambda turns it into a message."""

    pipeline: str
    repository: str
    branch: str
    outcome: str
    commit: Optional[str]
    started_at: str
    finished_at: str
    commits: tuple[CommitInfo, ...] = ()
    image: Optional[ImageInfo] = None
    services: tuple[ServiceDeployment, ...] = ()
    error: Optional[str] = None
    log: Optional[LogLocation] = None
    # The instance that built it (the agent's own id; None off EC2). Since version 1, so with a pool of builders
    # (issue 11) the history and notify already know which builder served a build: no second field for it.
    builder_instance_id: Optional[str] = None
    # Added after version 1 (an older notify ignores them): what was asked (build or rollback), how it
    # arrived (codecommit, github, gitlab, bitbucket, manual), and who pushed or asked.
    action: str = ACTION_BUILD
    trigger: Optional[str] = None
    requested_by: Optional[str] = None
    # Added after version 1 as well: a unique id per build (history records each result once by it) and the
    # timing of each step, in order.
    build_id: Optional[str] = None
    steps: tuple[StepTiming, ...] = ()

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise ContractError("outcome", f"expected one of {', '.join(OUTCOMES)}, got {self.outcome!r}")
        if self.error is not None and len(self.error) > _MAX_ERROR_CHARS:
            object.__setattr__(self, "error", self.error[: _MAX_ERROR_CHARS - 3] + "...")

    def to_json(self) -> str:
        return _dump(self, TYPE_BUILD_RESULT)

    @property
    def duration_seconds(self) -> Optional[float]:
        """None when either time is missing or names no UTC offset (a result built in code, not parsed)."""
        try:
            return (parse_timestamp(self.finished_at) - parse_timestamp(self.started_at)).total_seconds()
        except (AttributeError, TypeError, ValueError):
            return None

    @classmethod
    def from_dict(cls, data: Any) -> BuildResult:
        data = _check_envelope(data, TYPE_BUILD_RESULT)
        outcome = _req_str(data, "outcome")
        if outcome not in OUTCOMES:
            raise ContractError("outcome", f"expected one of {', '.join(OUTCOMES)}, got {show(outcome)}")
        commit = data.get("commit")
        return cls(
            pipeline=_req_str(data, "pipeline"),
            repository=_req_str(data, "repository"),
            branch=_req_str(data, "branch"),
            outcome=outcome,
            commit=None if commit is None else _commit(commit, "commit"),
            started_at=_timestamp(data, "started_at") or "",
            finished_at=_timestamp(data, "finished_at") or "",
            commits=tuple(_commit_info(c, f"commits[{i}].") for i, c in enumerate(_list(data, "commits"))),
            image=_image(data.get("image")),
            services=tuple(_service(s, f"services[{i}].") for i, s in enumerate(_list(data, "services"))),
            error=_opt_str(data, "error"),
            log=_log(data.get("log")),
            builder_instance_id=_opt_str(data, "builder_instance_id"),
            action=_opt_str(data, "action") or ACTION_BUILD,
            trigger=_opt_str(data, "trigger"),
            requested_by=_bounded(_opt_str(data, "requested_by"), "requested_by", MAX_PUSHED_BY_CHARS),
            build_id=_bounded(_opt_str(data, "build_id"), "build_id", MAX_EVENT_ID_CHARS),
            steps=tuple(_step(s, f"steps[{i}].") for i, s in enumerate(_list(data, "steps"))),
        )


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise ContractError(key, f"expected a list, got {type(value).__name__}")
    return value


def _object(value: Any, name: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ContractError(name, f"expected an object, got {type(value).__name__}")
    return value


def _commit_info(value: Any, prefix: str) -> CommitInfo:
    data = _object(value, prefix.rstrip("."))
    return CommitInfo(
        sha=_commit(data.get("sha"), prefix + "sha"),
        subject=_opt_str(data, "subject", prefix) or "",
        author=_opt_str(data, "author", prefix) or "",
    )


def _image(value: Any) -> Optional[ImageInfo]:
    if value is None:
        return None
    data = _object(value, "image")
    return ImageInfo(
        reference=_req_str(data, "reference", "image."),
        tag=_req_str(data, "tag", "image."),
        digest=_opt_str(data, "digest", "image."),
    )


def _service(value: Any, prefix: str) -> ServiceDeployment:
    data = _object(value, prefix.rstrip("."))
    return ServiceDeployment(
        cluster=_req_str(data, "cluster", prefix),
        service=_req_str(data, "service", prefix),
        previous_task_definition=_opt_str(data, "previous_task_definition", prefix),
        new_task_definition=_opt_str(data, "new_task_definition", prefix),
    )


def _step(value: Any, prefix: str) -> StepTiming:
    data = _object(value, prefix.rstrip("."))
    seconds = data.get("seconds")
    if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or not 0 <= seconds < 10**7:
        raise ContractError(prefix + "seconds", f"expected a number of seconds >= 0, got {show(seconds)}")
    ok = data.get("ok", True)
    if not isinstance(ok, bool):
        raise ContractError(prefix + "ok", f"expected true or false, got {show(ok)}")
    return StepTiming(name=_req_str(data, "name", prefix), started_at=_timestamp(data, "started_at", prefix) or "",
                      seconds=float(seconds), ok=ok)


def _log(value: Any) -> Optional[LogLocation]:
    if value is None:
        return None
    data = _object(value, "log")
    return LogLocation(
        group=_req_str(data, "group", "log."),
        stream=_req_str(data, "stream", "log."),
        region=_opt_str(data, "region", "log."),
    )


# ---------------------------------------------------------------- end of run


@dataclass(frozen=True)
class EndOfRun:
    """The agent has nothing left to do and asks for its builder to be stopped.

    ``builder_instance_id`` None (the seed's plain ``stop``) means "the configured builder".
    ``agent_exited`` True means no agent serves the queue on that builder any more (it crashed, or
    its service died): queued requests are no reason to leave the machine running then, because
    nothing would build them; close stops it and the reconcile starts it again for them. Added after
    version 1 shipped, so a message without it reads as False (an agent that keeps serving).
    """

    builder_instance_id: Optional[str]
    sent_at: str
    reason: str = "queue empty"
    agent_exited: bool = False

    def to_json(self) -> str:
        return _dump(self, TYPE_END_OF_RUN)

    @classmethod
    def from_dict(cls, data: Any) -> EndOfRun:
        data = _check_envelope(data, TYPE_END_OF_RUN)
        return cls(
            builder_instance_id=_opt_str(data, "builder_instance_id"),
            sent_at=_timestamp(data, "sent_at") or "",
            reason=_opt_str(data, "reason") or "",
            agent_exited=_opt_bool(data, "agent_exited"),
        )


# ---------------------------------------------------------------- alert


@dataclass(frozen=True)
class Alert:
    """Something the team must hear about that is not a build: a dead-lettered request, a request
    waiting too long, a builder the reconcile had to stop. Written by the reconcile function to the
    close topic (close ignores it, notify posts it). Added after version 1 shipped as a new type, so
    an older notify refuses it as an unknown type (logged), and nothing else changes.
    """

    kind: str
    summary: str
    sent_at: str
    detail: Optional[str] = None
    pipeline: Optional[str] = None
    commit: Optional[str] = None
    message_id: Optional[str] = None

    def __post_init__(self) -> None:
        if self.kind not in ALERT_KINDS:
            raise ContractError("kind", f"expected one of {', '.join(ALERT_KINDS)}, got {self.kind!r}")

    def to_json(self) -> str:
        return _dump(self, TYPE_ALERT)

    @classmethod
    def from_dict(cls, data: Any) -> Alert:
        data = _check_envelope(data, TYPE_ALERT)
        kind = _req_str(data, "kind")
        if kind not in ALERT_KINDS:
            raise ContractError("kind", f"expected one of {', '.join(ALERT_KINDS)}, got {show(kind)}")
        commit = data.get("commit")
        return cls(
            kind=kind,
            summary=_req_str(data, "summary"),
            sent_at=_timestamp(data, "sent_at") or "",
            detail=_opt_str(data, "detail"),
            pipeline=_opt_str(data, "pipeline"),
            commit=None if commit is None else _commit(commit, "commit"),
            message_id=_opt_str(data, "message_id"),
        )


CloseMessage = Union[BuildResult, EndOfRun, Alert]


def parse_close_message(text: str) -> CloseMessage:
    """Read a close-topic message: a build result, an end-of-run, an alert, or the seed's plain ``stop``."""
    if isinstance(text, str) and text.strip() == LEGACY_STOP:
        return EndOfRun(builder_instance_id=None, sent_at=utc_now(), reason="legacy stop")
    data = _loads(text)
    kind = data.get("type") if isinstance(data, Mapping) else None
    if kind == TYPE_BUILD_RESULT:
        return BuildResult.from_dict(data)
    if kind == TYPE_END_OF_RUN:
        return EndOfRun.from_dict(data)
    if kind == TYPE_ALERT:
        return Alert.from_dict(data)
    raise ContractError("type", f"expected {TYPE_BUILD_RESULT!r}, {TYPE_END_OF_RUN!r} or {TYPE_ALERT!r}, "
                        f"got {show(kind)}")


def close_message_attributes(message: CloseMessage) -> dict[str, dict[str, str]]:
    """SNS attributes so the close and notify subscriptions can filter by message type."""
    kinds = {BuildResult: TYPE_BUILD_RESULT, EndOfRun: TYPE_END_OF_RUN, Alert: TYPE_ALERT}
    kind = kinds[type(message)]
    attrs = {"type": {"DataType": "String", "StringValue": kind}}
    if isinstance(message, BuildResult):
        attrs["outcome"] = {"DataType": "String", "StringValue": message.outcome}
    return attrs


# ---------------------------------------------------------------- SNS envelope


def unwrap_sns_envelope(body: str) -> str:
    """Return the SNS ``Message`` when an SQS body is an SNS notification envelope.

    SNS -> SQS without raw delivery wraps the message in a JSON envelope; with raw delivery
    (or a direct send) the body is the message itself. Both must work.
    """
    try:
        data = json.loads(body)
    except (RecursionError, TypeError, ValueError):
        return body  # not an envelope; the contract parser refuses it with a ContractError
    if isinstance(data, Mapping) and data.get("Type") == "Notification" and isinstance(data.get("Message"), str):
        return data["Message"]
    return body
