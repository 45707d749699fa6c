"""What runs where (``GET /status``, ``pushdeploy-agent status``): each deploy target's service read live from
ECS, next to what pushdeploy last recorded deploying there.

A service running another revision than the last one pushdeploy put on it has drifted: someone deployed by hand
(or ECS rolled it back by itself). The recorded revision is, for the newest build that moved the service,
``after`` when it succeeded and ``before`` when it was rolled back (the deploy put it back); failed builds and
skips say nothing about what runs. Shared by the API (Lambda) and the agent, so both print the same.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from chalicelib.arns import ArnError, parse_task_definition
from chalicelib.aws_errors import AWS_EXCEPTIONS
from chalicelib.contracts import utc_now
from chalicelib.history.store import HistoryTable

log = logging.getLogger(__name__)

HISTORY_WINDOW = 50  # newest builds of a pipeline searched for its services' last deploy and image commits
_TAG_SHA = re.compile(r"\d{14}-([0-9a-f]{7})")  # the agent's image tag: <UTC time>-<short sha>
_DESCRIBE_BATCH = 10  # ECS DescribeServices takes at most 10 services


@dataclass(frozen=True)
class PipelineTargets:
    """One pipeline's deploy targets, as the agent settings file names them."""

    pipeline: str
    image_repository: str
    deploy: tuple[Mapping[str, Any], ...]  # {"cluster": str, "services": [str], "containers": [str]}


def revision(task_definition: Optional[str]) -> Optional[str]:
    """``family:revision``: the same revision compares equal whether named by ARN or short form."""
    if not task_definition:
        return None
    try:
        return str(parse_task_definition(task_definition))
    except ArnError:
        return task_definition


def read_status(ecs: Any, history: HistoryTable, pipelines: Sequence[PipelineTargets]) -> dict[str, Any]:
    """The ``GET /status`` body (docs/api.md)."""
    definitions: dict[str, list[dict[str, Any]]] = {}
    return {"checked_at": utc_now(),
            "pipelines": [_pipeline(ecs, history, p, definitions) for p in pipelines]}


def _pipeline(ecs: Any, history: HistoryTable, targets: PipelineTargets,
              definitions: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    records, _ = history.builds(targets.pipeline, HISTORY_WINDOW)
    services = []
    for target in targets.deploy:
        containers = tuple(target.get("containers") or ())
        for svc, error in _describe(ecs, str(target.get("cluster")), list(target.get("services") or [])):
            services.append(_service(ecs, svc, error, targets, containers, records, definitions))
    return {"pipeline": targets.pipeline, "last_build": records[0] if records else None, "services": services}


def _describe(ecs: Any, cluster: str, names: list[str]) -> Iterator[tuple[dict[str, Any], Optional[str]]]:
    """(service description or {"serviceName", "clusterArn"} stub, error) per named service, in order."""
    for i in range(0, len(names), _DESCRIBE_BATCH):
        batch = names[i:i + _DESCRIBE_BATCH]
        try:
            found = ecs.describe_services(cluster=cluster, services=batch)
        except AWS_EXCEPTIONS as exc:
            log.warning("status: describing %s in %s failed: %s", ", ".join(batch), cluster, exc)
            yield from (({"serviceName": n, "cluster": cluster}, f"describe_services failed: {exc}"[:300])
                        for n in batch)
            continue
        by_name = {s["serviceName"]: s for s in found.get("services", []) if s.get("status") == "ACTIVE"}
        for name in batch:
            yield dict(by_name.get(name, {"serviceName": name}), cluster=cluster), None


def _service(ecs: Any, svc: dict[str, Any], error: Optional[str], targets: PipelineTargets,
             containers: tuple[str, ...], records: list[dict[str, Any]],
             definitions: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    cluster = svc["cluster"]
    name = svc["serviceName"]
    recorded = last_deploy(records, cluster, name)
    running = svc.get("taskDefinition")
    answer: dict[str, Any] = {
        "cluster": cluster, "service": name, "task_definition": running, "revision": revision(running),
        "image": None, "commit": None, "rollout_state": _rollout_state(svc) if running else "MISSING",
        "running_count": svc.get("runningCount"), "desired_count": svc.get("desiredCount"), "recorded": recorded,
    }
    if error:
        answer.update(rollout_state=None, error=error)
    elif running:
        image, problem = _image(ecs, running, targets.image_repository, containers, definitions)
        answer.update(image=image, commit=commit_of(image, running, records))
        if problem:
            answer["error"] = problem
    answer.update(_drift(answer, recorded))
    return answer


def _rollout_state(svc: Mapping[str, Any]) -> str:
    primary = next((d for d in svc.get("deployments") or [] if d.get("status") == "PRIMARY"), {})
    state = primary.get("rolloutState")
    if state:
        return str(state)
    settled = len(svc.get("deployments") or []) <= 1 and svc.get("runningCount") == svc.get("desiredCount")
    return "COMPLETED" if settled else "IN_PROGRESS"


def last_deploy(records: Sequence[Mapping[str, Any]], cluster: str, service: str) -> Optional[dict[str, Any]]:
    """What pushdeploy last put on the service, from records newest first (see the module docstring)."""
    for record in records:
        if record.get("outcome") not in ("succeeded", "rolled_back"):
            continue
        for moved in record.get("services") or []:
            if (moved.get("cluster"), moved.get("service")) != (cluster, service):
                continue
            left_on = moved.get("after") if record["outcome"] == "succeeded" else moved.get("before")
            if left_on:
                return {"build_id": record.get("build_id"), "task_definition": left_on,
                        "finished_at": record.get("finished_at")}
    return None


def _image(ecs: Any, task_definition: str, image_repository: str, containers: tuple[str, ...],
           definitions: dict[str, list[dict[str, Any]]]) -> tuple[Optional[str], Optional[str]]:
    if task_definition not in definitions:
        try:
            described = ecs.describe_task_definition(taskDefinition=task_definition)
        except AWS_EXCEPTIONS as exc:
            return None, f"describe_task_definition failed: {exc}"[:300]
        definitions[task_definition] = described["taskDefinition"].get("containerDefinitions", [])
    found = definitions[task_definition]
    chosen = [c for c in found if c.get("name") in containers] if containers else [
        c for c in found if _repository_of(str(c.get("image", ""))).endswith(image_repository)]
    return (str(chosen[0]["image"]) if chosen else None), None


def _repository_of(image: str) -> str:
    """``registry/repo/path`` of ``registry/repo/path:tag@digest``."""
    without_digest = image.split("@", 1)[0]
    head, _, tail = without_digest.rpartition(":")
    return head if head and "/" not in tail else without_digest


def commit_of(image: Optional[str], task_definition: str, records: Sequence[Mapping[str, Any]]) -> Optional[str]:
    """The full sha of the recorded build that deployed this revision or image; else the short sha in the
    agent's image tag; else None (an image pushdeploy did not build)."""
    for record in records:
        image_ref = (record.get("image") or {}).get("reference")
        moved_to = {revision(s.get("after")) for s in record.get("services") or []}
        if record.get("commit") and (revision(task_definition) in moved_to or (image and image_ref == image)):
            return str(record["commit"])
    tag = (image or "").split("@", 1)[0].rpartition(":")[2]
    match = _TAG_SHA.fullmatch(tag)
    return match.group(1) if match else None


def _drift(answer: Mapping[str, Any], recorded: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    if recorded is None or not answer.get("task_definition"):
        reason = None if recorded is None else "the service is gone (not ACTIVE) since pushdeploy deployed it"
        return {"drift": None if recorded is None else True, "drift_reason": reason}
    runs, deployed = revision(answer["task_definition"]), revision(recorded["task_definition"])
    if runs == deployed:
        return {"drift": False, "drift_reason": None}
    return {"drift": True, "drift_reason": f"runs {runs}, pushdeploy last deployed {deployed} "
                                           f"(build {recorded.get('build_id')})"}
