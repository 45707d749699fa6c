"""The read routes over build history: ``GET /builds``, ``GET /builds/{build_id}``, ``GET /status``
(docs/api.md "Build history").

Pages are DynamoDB's own (a Query with a Limit, newest first); the ``next`` token is its LastEvaluatedKey with
the pipeline it belongs to, base64url-encoded: opaque to callers, checked on the way back so a token from another
listing (or made up) is a 400 naming ``next``, never a 500 from DynamoDB.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Optional
from urllib.parse import unquote

from chalicelib.contracts import branch_problem, repository_problem, show
from chalicelib.history.store import HistoryTable
from chalicelib.request.pipeline_api import AgentSettingsParameter, ApiAnswer, ApiProblem, answering
from chalicelib.status import PipelineTargets, read_status

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
_BUILD_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_KEY_FIELDS = {"pipeline", "sort_key", "feed", "build_id"}
_QUERY_PARAMETERS = ("pipeline", "limit", "next")


class HistoryApi:
    def __init__(self, history: HistoryTable, parameter: Optional[AgentSettingsParameter] = None,
                 ecs: Callable[[], Any] = lambda: None) -> None:
        self.history = history
        self.parameter = parameter
        self._ecs = ecs  # made on first GET /status, so the build routes never create an ECS client

    def builds(self, query: Optional[Mapping[str, str]]) -> ApiAnswer:
        def run() -> ApiAnswer:
            params = dict(query or {})
            unknown = [k for k in params if k not in _QUERY_PARAMETERS]
            if unknown:
                raise ApiProblem(400, f"{show(unknown[0])}: unknown parameter (this route takes pipeline, limit, "
                                      "next)", str(unknown[0])[:100])
            pipeline, limit = read_pipeline(params.get("pipeline")), read_limit(params.get("limit"))
            records, last = self.history.builds(pipeline, limit, read_next(params.get("next"), pipeline))
            return ApiAnswer(200, {"builds": records, "next": make_next(last, pipeline)})
        return answering(run)

    def build(self, build_id: str) -> ApiAnswer:
        def run() -> ApiAnswer:
            wanted = unquote(build_id)
            if not _BUILD_ID.fullmatch(wanted):
                raise ApiProblem(400, f"build_id: expected 1-64 letters, digits, '-' or '_', got {show(wanted)}",
                                 "build_id")
            record = self.history.build(wanted)
            if record is None:
                raise ApiProblem(404, f"unknown build {show(wanted)} (not in history, or expired)")
            return ApiAnswer(200, record)
        return answering(run)

    def status(self) -> ApiAnswer:
        def run() -> ApiAnswer:
            if self.parameter is None:
                raise ApiProblem(500, "GET /status needs the AGENT_SETTINGS_PARAMETER stage setting")
            targets = [PipelineTargets(p.id, p.image_repository, p.deploy) for p in self.parameter.pipelines()]
            return ApiAnswer(200, read_status(self._ecs(), self.history, targets))
        return answering(run)


def read_pipeline(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    # a pipeline id is repository/branch, and both may hold '/': accept it if any split is valid
    for cut in [i for i, ch in enumerate(value) if ch == "/"]:
        repository, branch = value[:cut], value[cut + 1:]
        if repository_problem(repository) is None and branch_problem(branch) is None:
            return value
    raise ApiProblem(400, f"pipeline: expected a pipeline id repository/branch, got {show(value)}", "pipeline")


def read_limit(value: Optional[str]) -> int:
    if value is None:
        return DEFAULT_LIMIT
    if not value.isascii() or not value.isdigit() or not 1 <= int(value) <= MAX_LIMIT:
        raise ApiProblem(400, f"limit: expected an integer from 1 to {MAX_LIMIT}, got {show(value)}", "limit")
    return int(value)


def make_next(last: Optional[Mapping[str, Any]], pipeline: Optional[str]) -> Optional[str]:
    if not last:
        return None
    key = {name: value["S"] for name, value in last.items()}
    text = json.dumps({"p": pipeline, "k": key}, sort_keys=True, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def read_next(token: Optional[str], pipeline: Optional[str]) -> Optional[dict[str, Any]]:
    """DynamoDB's ExclusiveStartKey from a token ``make_next`` gave out for the same ``pipeline``."""
    if token is None:
        return None
    problem = ApiProblem(400, "next: not a token this API gave out for this listing (pass the previous page's "
                              "next unchanged, with the same pipeline)", "next")
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        raise problem from None
    key = data.get("k") if isinstance(data, dict) else None
    if (not isinstance(key, dict) or data.get("p") != pipeline or not set(key) <= _KEY_FIELDS
            or not all(isinstance(v, str) and v for v in key.values()) or "sort_key" not in key
            or (pipeline is not None and key.get("pipeline") != pipeline)):
        raise problem
    return {name: {"S": value} for name, value in key.items()}
