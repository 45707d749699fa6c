"""Decide whether an ECS rollout finished on the revision we asked for, and wait for it.

The ``services_stable`` waiter (used by fabfuel/ecs-deploy and aws-actions) only asks "is the
service steady?", so it reports success after the deployment circuit breaker rolled the service
back to the old revision (fabfuel #185, aws-actions #191). Here success means: the PRIMARY
deployment runs the revision we registered, its rollout is COMPLETED and running == desired.
Anything else that cannot turn into that (a rollback, a FAILED rollout, the service on another
revision) fails at once instead of waiting out the timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from agent.ecs.api import Ecs, RolloutFailed, RolloutTimeout
from chalicelib.arns import ArnError, parse_arn, parse_task_definition

_ROLLBACK_WORDS = ("rolling back", "rollback", "rolled back")


def short(task_definition: str | None) -> str:
    """``family:revision`` for log lines; the text itself if it is not a task-definition ARN."""
    if not task_definition:
        return "(none)"
    try:
        return str(parse_task_definition(task_definition))
    except ArnError:
        return task_definition


def name_of(name_or_arn: str) -> str:
    """The bare name ECS reports as ``serviceName`` / in messages, for a cluster or service given either way."""
    try:
        return parse_arn(name_or_arn, "ecs").resource_name
    except ArnError:
        return name_or_arn


@dataclass(frozen=True)
class Expectation:
    """Service ``cluster``/``service`` must end up running ``task_definition`` (an ARN)."""

    cluster: str
    service: str
    task_definition: str

    @property
    def where(self) -> str:
        return f"{self.cluster}/{self.service}"


@dataclass(frozen=True)
class Progress:
    done: bool
    summary: str


def _primary(deployments: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    return next((d for d in deployments if d.get("status") == "PRIMARY"), None)


def _check_rollback_reasons(deployments: Sequence[Mapping[str, Any]], expected: str, where: str) -> None:
    """A rollback shows on the PRIMARY (heading back) or on our deployment; an older deployment still
    draining may carry a stale reason from an earlier rollback and says nothing about this one."""
    for dep in deployments:
        if dep.get("status") != "PRIMARY" and dep.get("taskDefinition") != expected:
            continue
        reason = dep.get("rolloutStateReason") or ""
        if any(word in reason.lower() for word in _ROLLBACK_WORDS):
            raise RolloutFailed(f"{where}: the deployment circuit breaker rolled back {short(expected)} "
                                f"(deployment {dep.get('id', '?')} on {short(dep.get('taskDefinition'))}): {reason}")


def assess(service: Mapping[str, Any], expected: str, *, rolling_back: bool = False) -> Progress:
    """Where the rollout of ``expected`` stands; raise RolloutFailed when it can no longer succeed.

    ``rolling_back``: we are waiting for a rollback ourselves, so ECS's own "rolling back"
    messages (its circuit breaker heading to the same old revision) are not failures.
    """
    where = f"{name_of(service.get('clusterArn', '?'))}/{service.get('serviceName', '?')}"
    if service.get("status") != "ACTIVE":
        raise RolloutFailed(f"{where}: service is {service.get('status')}")
    deployments = service.get("deployments") or []
    if not rolling_back:
        _check_rollback_reasons(deployments, expected, where)
    primary = _primary(deployments)
    if primary is None:
        return Progress(False, f"{short(expected)} no PRIMARY deployment yet")
    if primary.get("taskDefinition") != expected or service.get("taskDefinition") != expected:
        raise RolloutFailed(f"{where}: service runs {short(service.get('taskDefinition'))} (PRIMARY deployment "
                            f"{short(primary.get('taskDefinition'))}), not {short(expected)}: rolled back or replaced")
    state = primary.get("rolloutState")
    if state == "FAILED":
        raise RolloutFailed(f"{where}: deployment of {short(expected)} FAILED: {primary.get('rolloutStateReason', '')}")
    running, desired = primary.get("runningCount", 0), primary.get("desiredCount", 0)
    settled = state == "COMPLETED" or (state is None and len(deployments) == 1)
    summary = f"{short(expected)} {state or 'no rolloutState'}, running {running}/{desired}"
    if primary.get("failedTasks"):
        summary += f", {primary['failedTasks']} failed task(s)"
    if len(deployments) > 1:
        summary += f", {len(deployments) - 1} other deployment(s)"
    return Progress(settled and running == desired, summary)


def wait_for_rollouts(ecs: Ecs, expectations: Sequence[Expectation], *, timeout: float,
                      log: Callable[[str], None], rolling_back: bool = False,
                      first_interval: float = 2.0, max_interval: float = 15.0) -> None:
    """Poll every service (one describe per cluster per round) until all completed, with backoff.

    Raises RolloutFailed as soon as one cannot succeed, RolloutTimeout naming those still pending.
    """
    deadline = ecs.clock() + timeout
    pending = list(expectations)
    interval = first_interval
    seen: dict[Expectation, str] = {}
    while True:
        pending = _poll_once(ecs, pending, seen, log, rolling_back)
        if not pending:
            return
        remaining = deadline - ecs.clock()
        if remaining <= 0:
            states = "; ".join(f"{e.where}: {seen.get(e, 'no state')}" for e in pending)
            raise RolloutTimeout(f"rollout not completed after {timeout:.0f}s: {states}")
        ecs.sleep(min(interval, remaining))
        interval = min(interval * 2, max_interval)


def _poll_once(ecs: Ecs, pending: list[Expectation], seen: dict[Expectation, str],
               log: Callable[[str], None], rolling_back: bool) -> list[Expectation]:
    still: list[Expectation] = []
    for cluster in dict.fromkeys(e.cluster for e in pending):
        group = [e for e in pending if e.cluster == cluster]
        described = ecs.describe_services(cluster, [e.service for e in group])
        by_name = {svc["serviceName"]: svc for svc in described}
        for exp in group:
            progress = assess(by_name[name_of(exp.service)], exp.task_definition, rolling_back=rolling_back)
            if seen.get(exp) != progress.summary:
                log(f"wait {exp.where}: {progress.summary}")
                seen[exp] = progress.summary
            if not progress.done:
                still.append(exp)
    return still
