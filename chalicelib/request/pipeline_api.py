"""The pipeline API behind ``GET /pipelines``, ``POST /pipelines/{pipeline}/builds`` and
``POST /pipelines/{pipeline}/rollback`` (docs/api.md).

A manual build or rollback travels exactly as a push does: a versioned ``BuildRequest`` on the request
topic, so the builder serves it through the same queue, with the same guarantees, and reports it like a
build. The list of pipelines is the agent's own settings file (the SSM parameter ``infra record``
uploads), so the API knows exactly the pipelines the builder can serve; an unknown one is refused here
instead of being dead-lettered on the builder. Only names and deploy targets leave this module: a
pipeline's source URL and build arguments may hold secrets and are never echoed.
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Optional
from urllib.parse import unquote

from chalicelib.arns import ArnError, parse_task_definition
from chalicelib.contracts import (
    ACTION_BUILD,
    ACTION_ROLLBACK,
    MAX_PUSHED_BY_CHARS,
    MAX_ROLLBACK_TO_CHARS,
    BuildRequest,
    show,
    utc_now,
)
from chalicelib.errors import PushdeployLambdaError, RetryableError

if TYPE_CHECKING:
    from mypy_boto3_ssm import SSMClient

    from chalicelib.request.topic import RequestTopic
else:
    SSMClient = Any

log = logging.getLogger(__name__)

LOCAL_CALLER = "local (no auth)"
MAX_BODY_BYTES = 16 * 1024  # the bodies are a few fields; anything bigger is not a request for this API
_COMMIT_RE = re.compile(r"[0-9a-fA-F]{40}")
_BUILD_FIELDS = ("commit", "force")
_ROLLBACK_FIELDS = ("to",)


@dataclass(frozen=True)
class ApiAnswer:
    """What a route answers: app.py turns it into a chalice Response."""

    status: int
    body: dict[str, Any]


class ApiProblem(Exception):
    """A request this API refuses; ``field`` names the offending part of the body, if any."""

    def __init__(self, status: int, message: str, field_name: Optional[str] = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field_name

    def answer(self) -> ApiAnswer:
        body: dict[str, Any] = {"error": str(self)}
        if self.field:
            body["field"] = self.field
        return ApiAnswer(self.status, body)


@dataclass(frozen=True)
class PipelineView:
    """What the API shows of a configured pipeline: names and where it deploys, nothing secret."""

    repository: str
    branch: str
    image_repository: str
    deploy: tuple[dict[str, Any], ...] = field(default=())

    @property
    def id(self) -> str:
        return f"{self.repository}/{self.branch}"

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "repository": self.repository, "branch": self.branch,
                "image_repository": self.image_repository, "deploy": list(self.deploy)}


class AgentSettingsParameter:
    """The agent's settings file as ``infra record`` uploaded it; read on every call, so a new pipeline is
    served as soon as it is recorded."""

    def __init__(self, ssm: SSMClient, name: str) -> None:
        self._ssm = ssm
        self.name = name

    def pipelines(self) -> list[PipelineView]:
        data = self._parse(self._read())
        tables = data.get("pipelines", [])
        if not isinstance(tables, list):
            raise self._broken("pipelines: expected an array of tables")
        return [self._view(table, i) for i, table in enumerate(tables)]

    def _read(self) -> str:
        from botocore.exceptions import BotoCoreError, ClientError

        from chalicelib.aws_errors import classify

        try:
            return str(self._ssm.get_parameter(Name=self.name)["Parameter"]["Value"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ParameterNotFound":
                raise ApiProblem(503, f"agent settings parameter {self.name} not found: record the pipeline stack "
                                      "(python -m infra record) before using the API") from exc
            error = classify(exc, f"reading the agent settings parameter {self.name}")
        except BotoCoreError as exc:
            error = classify(exc, f"reading the agent settings parameter {self.name}")
        raise ApiProblem(503 if isinstance(error, RetryableError) else 500, str(error))

    def _parse(self, text: str) -> dict[str, Any]:
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise self._broken(f"not valid TOML: {exc}") from None

    def _view(self, table: Any, index: int) -> PipelineView:
        where = f"pipelines[{index}]"
        if not isinstance(table, dict):
            raise self._broken(f"{where}: expected a table")
        names = {key: table.get(key) for key in ("repository", "branch", "image_repository")}
        for key, value in names.items():
            if not isinstance(value, str) or not value:
                raise self._broken(f"{where}.{key}: required string")
        targets = table.get("deploy", [])
        if not isinstance(targets, list) or not all(isinstance(t, dict) for t in targets):
            raise self._broken(f"{where}.deploy: expected an array of tables")
        deploy = tuple({"cluster": t.get("cluster"), "services": list(t.get("services") or []),
                        "containers": list(t.get("containers") or [])} for t in targets)
        return PipelineView(names["repository"], names["branch"], names["image_repository"], deploy)

    def _broken(self, problem: str) -> ApiProblem:
        return ApiProblem(500, f"agent settings parameter {self.name}: {problem}")


def caller_identity(context: Mapping[str, Any], auth: str) -> str:
    """Who asked: the IAM principal API Gateway verified (userArn, else caller). Without auth (the local stage)
    there is nobody to name. With IAM but no identity the request did not pass API Gateway's check (chalice
    local does not enforce IAM): refused, so an unsigned call never builds."""
    if auth == "none":
        return LOCAL_CALLER
    identity = context.get("identity") if isinstance(context, Mapping) else None
    identity = identity if isinstance(identity, Mapping) else {}
    who = identity.get("userArn") or identity.get("caller")
    if not isinstance(who, str) or not who.strip():
        raise ApiProblem(403, "no caller identity: this API needs a SigV4-signed request (IAM); see docs/api.md")
    return who[:MAX_PUSHED_BY_CHARS]


def parse_body(raw: Optional[bytes], allowed: tuple[str, ...]) -> dict[str, Any]:
    """The optional JSON object body; an empty body is ``{}``. Unknown keys are refused: a typo such as
    ``comit`` must not quietly build the branch head instead."""
    if raw is None or not raw.strip():
        return {}
    if len(raw) > MAX_BODY_BYTES:
        raise ApiProblem(413, f"body over {MAX_BODY_BYTES} bytes", "(body)")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ApiProblem(400, "body: expected a JSON object", "(body)") from None
    if not isinstance(data, dict):
        raise ApiProblem(400, f"body: expected a JSON object, got {type(data).__name__}", "(body)")
    unknown = [key for key in data if key not in allowed]
    if unknown:
        raise ApiProblem(400, f"{show(unknown[0])}: unknown field (this route takes {', '.join(allowed)})",
                         str(unknown[0])[:100])
    return data


def read_commit(data: Mapping[str, Any]) -> Optional[str]:
    value = data.get("commit")
    if value is None:
        return None
    if not isinstance(value, str) or not _COMMIT_RE.fullmatch(value):
        raise ApiProblem(400, f"commit: expected a full 40-character hex commit id, got {show(value)}", "commit")
    return value.lower()


def read_force(data: Mapping[str, Any]) -> bool:
    value = data.get("force", False)
    if not isinstance(value, bool):
        raise ApiProblem(400, f"force: expected true or false, got {show(value)}", "force")
    return value


def read_rollback_to(data: Mapping[str, Any]) -> Optional[str]:
    value = data.get("to")
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_ROLLBACK_TO_CHARS:
        raise ApiProblem(400, f"to: expected a task definition family:revision or ARN, got {show(value)}", "to")
    try:
        parse_task_definition(value)
    except ArnError as exc:
        raise ApiProblem(400, f"to: {exc}", "to") from None
    return value


class PipelineApi:
    def __init__(self, parameter: AgentSettingsParameter, topic: RequestTopic, auth: str,
                 new_event_id: Callable[[], str] = lambda: str(uuid.uuid4())) -> None:
        self.parameter = parameter
        self.topic = topic
        self.auth = auth
        self.new_event_id = new_event_id

    def list(self) -> ApiAnswer:
        return answering(lambda: ApiAnswer(200, {
            "pipelines": [p.to_dict() for p in self.parameter.pipelines()]}))

    def build(self, segment: str, raw_body: Optional[bytes], context: Mapping[str, Any]) -> ApiAnswer:
        def run() -> ApiAnswer:
            who = caller_identity(context, self.auth)
            data = parse_body(raw_body, _BUILD_FIELDS)
            commit, force = read_commit(data), read_force(data)
            pipeline = self._pipeline(segment)
            return self._publish(pipeline, who, ACTION_BUILD, commit=commit, force=force, pin=commit is not None)
        return answering(run)

    def rollback(self, segment: str, raw_body: Optional[bytes], context: Mapping[str, Any]) -> ApiAnswer:
        def run() -> ApiAnswer:
            who = caller_identity(context, self.auth)
            to = read_rollback_to(parse_body(raw_body, _ROLLBACK_FIELDS))
            pipeline = self._pipeline(segment)
            if not pipeline.deploy:
                raise ApiProblem(409, f"pipeline {pipeline.id} has no deploy targets: nothing to roll back")
            return self._publish(pipeline, who, ACTION_ROLLBACK, rollback_to=to)
        return answering(run)

    def _pipeline(self, segment: str) -> PipelineView:
        """The pipeline a path segment names: the id percent-encoded once (``octo%2Fapp%2Fmain``)."""
        wanted = unquote(segment)
        pipelines = self.parameter.pipelines()
        for pipeline in pipelines:
            if pipeline.id == wanted:
                return pipeline
        known = ", ".join(p.id for p in pipelines[:20]) or "none"
        raise ApiProblem(404, f"unknown pipeline {show(wanted)} (configured: {known}; in the URL the id is one "
                              "path segment, '/' written as %2F)")

    def _publish(self, pipeline: PipelineView, who: str, action: str, **fields: Any) -> ApiAnswer:
        request = BuildRequest(pipeline.repository, pipeline.branch, fields.pop("commit", None), "api",
                               self.new_event_id(), utc_now(), pushed_by=who, action=action, trigger="manual",
                               **fields)
        message_id = self.topic.publish(request)
        log.info("api: %s of %s requested by %s: event %s, message %s%s", action, pipeline.id, who,
                 request.event_id, message_id, _details(request))
        body = {"event_id": request.event_id, "message_id": message_id, "pipeline": pipeline.id, "action": action,
                "commit": request.commit, "force": request.force, "rollback_to": request.rollback_to,
                "requested_by": who}
        return ApiAnswer(202, body)


class UnconfiguredApi:
    """The API of a stage whose settings are missing or invalid: every route answers 500 naming them (a
    configuration problem, logged once per call), instead of chalice's anonymous internal error."""

    def __init__(self, error: PushdeployLambdaError) -> None:
        self.error = error

    def _answer(self, *_args: Any) -> ApiAnswer:
        log.error("api: %s", self.error)
        return ApiAnswer(500, {"error": str(self.error)})

    list = build = rollback = builds = status = _answer


def _details(request: BuildRequest) -> str:
    parts = [f"commit={request.commit}" if request.commit else "",
             "force" if request.force else "", f"to={request.rollback_to}" if request.rollback_to else ""]
    return "".join(f", {part}" for part in parts if part)


def answering(run: Callable[[], ApiAnswer]) -> ApiAnswer:
    """Every refusal as a JSON answer with a status that says whose problem it is: 4xx the caller's,
    503 try again later, 500 the stage's configuration (the message names the setting or parameter)."""
    try:
        return run()
    except ApiProblem as problem:
        log.info("api: refused (%d): %s", problem.status, problem)
        return problem.answer()
    except RetryableError as exc:
        log.warning("api: %s", exc)
        return ApiAnswer(503, {"error": str(exc)})
    except PushdeployLambdaError as exc:
        log.error("api: %s", exc)
        return ApiAnswer(500, {"error": str(exc)})
