"""Put an image on ECS services: render, register, update, verify, roll back, clean up.

This replaces the seed's task_update.sh / service_update.sh, which copied three keys of the
newest revision, assumed one service per cluster, never waited and never rolled back. Each
service starts from the revision it runs now; a deploy is verified, and any failure or timeout
puts every service it touched back where it was, so the report says exactly what is running.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from agent.docker.imageref import ImageRefError, parse_image
from agent.ecs import taskdef
from agent.ecs.api import DeployError, Ecs, RollbackFailed, TargetError
from agent.ecs.rollout import Expectation, short, wait_for_rollouts
from chalicelib.arns import parse_task_definition
from chalicelib.contracts import ServiceDeployment

Log = Callable[[str], None]
# Times one named step (register, update, rollout_wait) for the build's history record; the default times nothing.
Timed = Callable[[str], AbstractContextManager[Any]]


def _untimed(name: str) -> AbstractContextManager[Any]:
    return nullcontext()


@dataclass(frozen=True)
class DeployTarget:
    cluster: str
    services: tuple[str, ...]
    containers: tuple[str, ...] = ()   # () = containers whose image comes from image_repository


@dataclass(frozen=True)
class DeployReport:
    outcome: str            # "succeeded" | "rolled_back" | "failed"
    services: tuple[ServiceDeployment, ...]
    error: str | None = None


@dataclass
class _ServicePlan:
    cluster: str
    service: str
    current: str
    rendered: taskdef.Rendered
    new: str | None = None

    @property
    def where(self) -> str:
        return f"{self.cluster}/{self.service}"

    def record(self) -> ServiceDeployment:
        return ServiceDeployment(self.cluster, self.service, self.current, self.new)


# ---------------------------------------------------------------- plan and register


def _plan(ecs: Ecs, targets: Sequence[DeployTarget], image: str, image_repository: str,
          log: Log) -> list[_ServicePlan]:
    """Describe what each service runs now and render its next revision; changes nothing."""
    parse_image(image)
    if not targets:
        raise TargetError("no deploy targets given")
    shape = taskdef.register_shape(ecs.client)
    rendered: dict[tuple[str, tuple[str, ...]], taskdef.Rendered] = {}
    plans = []
    for target in targets:
        if not target.services:
            raise TargetError(f"deploy target in cluster {target.cluster} names no service")
        for svc in ecs.describe_services(target.cluster, list(target.services)):
            _check_controller(target.cluster, svc)
            current = svc["taskDefinition"]
            key = (current, target.containers)
            if key not in rendered:
                described, tags = ecs.describe_task_definition(current)
                rendered[key] = taskdef.render(described, tags, image, image_repository, target.containers, shape)
            plan = _ServicePlan(target.cluster, svc["serviceName"], current, rendered[key])
            if any((p.cluster, p.service) == (plan.cluster, plan.service) for p in plans):
                raise TargetError(f"service {plan.where} is named twice in the deploy targets")
            log(f"plan {plan.where}: runs {short(current)}; " + _describe_changes(plan.rendered))
            _note_unsettled(plan, svc, log)
            plans.append(plan)
    return plans


def _note_unsettled(plan: _ServicePlan, svc: dict[str, Any], log: Log) -> None:
    """An earlier rollout still running is worth a line: ours replaces it, starting from its revision."""
    others = [short(d.get("taskDefinition")) for d in svc.get("deployments") or [] if d.get("status") != "PRIMARY"]
    if others:
        log(f"note {plan.where}: earlier deployment(s) of {', '.join(others)} still draining")


def _check_controller(cluster: str, svc: dict[str, Any]) -> None:
    kind = (svc.get("deploymentController") or {}).get("type", "ECS")
    if kind != "ECS":
        raise TargetError(f"service {cluster}/{svc['serviceName']} uses the {kind} deployment controller; "
                          "only ECS rolling deployments are supported")


def _describe_changes(rendered: taskdef.Rendered) -> str:
    return ", ".join(f"container {c.container}: {c.old} -> {c.new}" if c.old != c.new
                     else f"container {c.container}: already {c.new}" for c in rendered.changes)


def _register(ecs: Ecs, plans: Sequence[_ServicePlan], log: Log) -> None:
    """One new revision per distinct (source revision, containers): services sharing one share the new one."""
    registered: dict[int, str] = {}
    for plan in plans:
        if not plan.rendered.changed:
            plan.new = plan.current
            continue
        if id(plan.rendered) not in registered:
            new = ecs.register_task_definition(plan.rendered.new)["taskDefinitionArn"]
            log(f"register {short(new)} from {short(plan.current)} ({len(plan.rendered.new.get('tags', []))} tags): "
                + _describe_changes(plan.rendered))
            registered[id(plan.rendered)] = new
        plan.new = registered[id(plan.rendered)]


# ---------------------------------------------------------------- update, wait, roll back


def _update(ecs: Ecs, plans: Sequence[_ServicePlan], updated: list[_ServicePlan], log: Log) -> None:
    for plan in plans:
        if plan.new == plan.current:
            log(f"update {plan.where}: already runs the image on {short(plan.current)}; nothing to do")
            continue
        ecs.update_service(plan.cluster, plan.service, plan.new or "")
        updated.append(plan)
        log(f"update {plan.where}: {short(plan.current)} -> {short(plan.new)}")


def _roll_back(ecs: Ecs, moved: Sequence[ServiceDeployment], wait_timeout: float, log: Log) -> None:
    """Every moved service back to the revision it ran before; raise RollbackFailed naming failures."""
    errors: list[str] = []
    waiting: list[Expectation] = []
    for svc in moved:
        where, back = f"{svc.cluster}/{svc.service}", svc.previous_task_definition or ""
        try:
            ecs.update_service(svc.cluster, svc.service, back)
            log(f"rollback {where}: {short(svc.new_task_definition)} -> {short(back)}")
            waiting.append(Expectation(svc.cluster, svc.service, back))
        except DeployError as exc:
            errors.append(str(exc))
    try:
        wait_for_rollouts(ecs, waiting, timeout=wait_timeout, log=log, rolling_back=True)
    except DeployError as exc:
        errors.append(str(exc))
    if errors:
        raise RollbackFailed("; ".join(errors))


def _roll_back_without_waiting(ecs: Ecs, updated: Sequence[_ServicePlan], cause: BaseException, log: Log) -> None:
    """Ask ECS to put every updated service back, and leave: systemd kills the agent 90 s after SIGTERM, and
    ECS finishes the rollback by itself. The next run's journal check says how it ended."""
    for plan in updated:
        try:
            ecs.update_service(plan.cluster, plan.service, plan.current)
            log(f"rollback {plan.where}: {short(plan.new)} -> {short(plan.current)} (interrupted by "
                f"{type(cause).__name__}; not waiting)")
        except Exception as exc:  # noqa: BLE001 - try every service, then let the interruption go on
            log(f"rollback {plan.where} FAILED while interrupted: {exc}")


def _recover(ecs: Ecs, plans: Sequence[_ServicePlan], updated: Sequence[_ServicePlan], cause: Exception,
             wait_timeout: float, log: Log) -> DeployReport:
    reason = str(cause) if isinstance(cause, DeployError) else f"{type(cause).__name__}: {cause}"
    records = tuple(p.record() for p in plans)
    log(f"deploy failed: {reason}")
    if not updated:
        return DeployReport("failed", records, reason)
    return _report_rolled_back(ecs, [p.record() for p in updated], records, reason, wait_timeout, log)


def _report_rolled_back(ecs: Ecs, moved: Sequence[ServiceDeployment], records: tuple[ServiceDeployment, ...],
                        reason: str, wait_timeout: float, log: Log) -> DeployReport:
    try:
        _roll_back(ecs, moved, wait_timeout, log)
    except RollbackFailed as exc:
        log(f"rollback FAILED: {exc}")
        return DeployReport("failed", records, f"{reason}; rollback failed: {exc}")
    names = ", ".join(f"{s.cluster}/{s.service} to {short(s.previous_task_definition)}" for s in moved)
    log(f"rolled back {names}")
    return DeployReport("rolled_back", records, f"{reason}; rolled back {names}")


# ---------------------------------------------------------------- revision clean-up


def revisions_in_use(ecs: Ecs) -> set[str]:
    """Every revision any deployment of any service in any cluster of the region runs."""
    used: set[str] = set()
    for cluster in ecs.list_clusters():
        names = ecs.list_services(cluster)
        if not names:
            continue
        for svc in ecs.describe_services(cluster, names, require_active=False):
            used.add(svc.get("taskDefinition", ""))
            used.update(d.get("taskDefinition", "") for d in svc.get("deployments") or [])
    return used


def prune_revisions(ecs: Ecs, families: Iterable[str], keep: int, protect: Iterable[str], log: Log) -> list[str]:
    """Deregister ACTIVE revisions older than the newest ``keep``, never one in use or in ``protect``."""
    if keep <= 0:
        return []
    protected = revisions_in_use(ecs) | set(protect)
    removed = []
    for family in dict.fromkeys(families):
        arns = sorted(ecs.list_task_definitions(family), key=lambda a: parse_task_definition(a).revision,
                      reverse=True)
        for arn in arns[keep:]:
            if arn in protected:
                log(f"clean-up {family}: keep {short(arn)} (in use)")
                continue
            ecs.deregister_task_definition(arn)
            removed.append(arn)
            log(f"clean-up {family}: deregistered {short(arn)}")
    return removed


def _clean_up(ecs: Ecs, plans: Sequence[_ServicePlan], keep: int, log: Log) -> None:
    families = [parse_task_definition(p.new).family for p in plans if p.new and p.new != p.current]
    protect = [p.current for p in plans] + [p.new or "" for p in plans]
    try:
        prune_revisions(ecs, families, keep, protect, log)
    except Exception as exc:  # tidying must never turn a verified deploy into a failure
        log(f"clean-up stopped (the deploy itself succeeded): {exc}")


# ---------------------------------------------------------------- public API


def deploy_image(ecs_client: Any, targets: Sequence[DeployTarget], image: str, image_repository: str, *,
                 wait_timeout: float = 900, keep_revisions: int = 10, log: Log = print,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                 dry_run: bool = False,
                 before_update: Callable[[tuple[ServiceDeployment, ...]], None] | None = None,
                 timed: Timed = _untimed) -> DeployReport:
    """Deploy ``image`` to every target service and verify it; never raises for a deploy failure.

    Outcome "failed" before any service changed (or when a rollback fails too, the error says so),
    "rolled_back" when the rollout failed or timed out and every updated service is back.
    ``before_update`` gets each service's current and new revision once they are registered and before
    any service changes (the deploy journal); if it raises OSError, nothing changes and the deploy fails.
    ``timed(step)`` wraps the register, update and rollout_wait steps (and rollback after a failure).
    """
    ecs = Ecs(ecs_client, sleep=sleep, clock=clock)
    log(f"deploy {image} (repository {image_repository}) to "
        + "; ".join(f"{t.cluster}/{','.join(t.services)}" for t in targets))
    try:
        plans = _plan(ecs, targets, image, image_repository, log)
    except (DeployError, ImageRefError) as exc:
        log(f"deploy failed, nothing changed: {exc}")
        return DeployReport("failed", (), str(exc))
    if dry_run:
        log("dry run: nothing registered or updated")
        return DeployReport("succeeded", tuple(p.record() for p in plans))
    try:
        with timed("register"):
            _register(ecs, plans, log)
        if before_update is not None and any(p.new != p.current for p in plans):
            before_update(tuple(p.record() for p in plans))
    except (DeployError, OSError) as exc:
        log(f"deploy failed, no service changed: {exc}")
        return DeployReport("failed", tuple(p.record() for p in plans), str(exc))
    updated: list[_ServicePlan] = []
    try:
        with timed("update"):
            _update(ecs, plans, updated, log)
        with timed("rollout_wait"):
            wait_for_rollouts(ecs, [Expectation(p.cluster, p.service, p.new or "") for p in updated],
                              timeout=wait_timeout, log=log)
    except Exception as exc:  # any failure once a service may have changed must roll back
        with timed("rollback") if updated else nullcontext():
            return _recover(ecs, plans, updated, exc, wait_timeout, log)
    except BaseException as exc:  # SIGTERM (systemd stopping the unit), Ctrl-C: no time to wait, but put back
        _roll_back_without_waiting(ecs, updated, exc, log)
        raise
    _clean_up(ecs, plans, keep_revisions, log)
    log("deploy succeeded: " + ", ".join(f"{p.where} on {short(p.new)}" for p in plans))
    return DeployReport("succeeded", tuple(p.record() for p in plans))


def verify_interrupted(ecs_client: Any, moved: Sequence[ServiceDeployment], *, wait_timeout: float = 900,
                       log: Log = print, sleep: Callable[[float], None] = time.sleep,
                       clock: Callable[[], float] = time.monotonic) -> DeployReport | None:
    """Finish the check of a deploy of this same image that was interrupted (the deploy journal's services).

    Services already on the journal's new revision are waited for as a deploy waits, and rolled back on
    failure ("rolled_back"); when all were, the deploy is "succeeded". None: some service is not on its
    new revision (never updated, or back on the previous one), so a normal deploy does the rest.
    """
    ecs = Ecs(ecs_client, sleep=sleep, clock=clock)
    on_new: list[ServiceDeployment] = []
    elsewhere = 0
    for svc in moved:
        where = f"{svc.cluster}/{svc.service}"
        if svc.new_task_definition == svc.previous_task_definition:
            continue  # it already ran the image: the interrupted deploy left it alone
        runs = ecs.describe_service(svc.cluster, svc.service)["taskDefinition"]
        if runs == svc.new_task_definition:
            log(f"verify {where}: the interrupted deploy moved it to {short(runs)}; checking its rollout")
            on_new.append(svc)
        else:
            elsewhere += 1
            log(f"verify {where}: runs {short(runs)}, not the interrupted deploy's {short(svc.new_task_definition)}")
    try:
        wait_for_rollouts(ecs, [Expectation(s.cluster, s.service, s.new_task_definition or "") for s in on_new],
                          timeout=wait_timeout, log=log)
    except DeployError as exc:
        log(f"verify failed: {exc}")
        return _report_rolled_back(ecs, on_new, tuple(moved), str(exc), wait_timeout, log)
    if elsewhere:
        return None
    log("verify: the interrupted deploy completed: " + ", ".join(
        f"{s.cluster}/{s.service} on {short(s.new_task_definition)}" for s in moved))
    return DeployReport("succeeded", tuple(moved))


def previous_revision(ecs: Ecs, current: str) -> str:
    """The newest ACTIVE revision of the family older than ``current``: what "back" means by default."""
    ref = parse_task_definition(current)
    older = [a for a in ecs.list_task_definitions(ref.family) if parse_task_definition(a).revision < ref.revision]
    if not older:
        raise TargetError(f"no ACTIVE revision of {ref.family} older than {ref}; name one with to=family:revision")
    return max(older, key=lambda a: parse_task_definition(a).revision)


def rollback_service(ecs_client: Any, cluster: str, service: str, *, to: str | None = None,
                     wait_timeout: float = 900, log: Log = print, sleep: Callable[[float], None] = time.sleep,
                     clock: Callable[[], float] = time.monotonic) -> ServiceDeployment:
    """Put a service on ``to`` (default: the previous revision) and wait; raises DeployError on failure."""
    ecs = Ecs(ecs_client, sleep=sleep, clock=clock)
    current = ecs.describe_service(cluster, service)["taskDefinition"]
    target = ecs.describe_task_definition(to)[0]["taskDefinitionArn"] if to else previous_revision(ecs, current)
    log(f"rollback {cluster}/{service}: runs {short(current)}, going to {short(target)}")
    if target != current:
        ecs.update_service(cluster, service, target)
        log(f"update {cluster}/{service}: {short(current)} -> {short(target)}")
    wait_for_rollouts(ecs, [Expectation(cluster, service, target)], timeout=wait_timeout, log=log,
                      rolling_back=True)
    log(f"rollback {cluster}/{service}: on {short(target)}")
    return ServiceDeployment(cluster, service, current, target)


def current_images(ecs_client: Any, targets: Sequence[DeployTarget], image_repository: str, *,
                   registry: str | None = None) -> list[str]:
    """Images the target containers run now (distinct, in order): to tell whether a build changes anything.

    Without ``registry`` any registry host counts; with it, only that host.
    """
    by_service = images_by_service(ecs_client, targets, image_repository, registry=registry)
    return list(dict.fromkeys(image for images in by_service.values() for image in images))


def images_by_service(ecs_client: Any, targets: Sequence[DeployTarget], image_repository: str, *,
                      registry: str | None = None) -> dict[str, list[str]]:
    """``cluster/service`` -> images its target containers run now; an empty list means the deploy would
    refuse that service, so a build for it is wasted."""
    ecs = Ecs(ecs_client)
    found: dict[str, list[str]] = {}
    for target in targets:
        for svc in ecs.describe_services(target.cluster, list(target.services)):
            described, _ = ecs.describe_task_definition(svc["taskDefinition"])
            found[f"{target.cluster}/{svc['serviceName']}"] = [
                c["image"] for c in described["containerDefinitions"]
                if _is_target(c, target.containers, image_repository, registry)]
    return found


def _is_target(container: dict[str, Any], names: tuple[str, ...], repository: str, registry: str | None) -> bool:
    return container["name"] in names if names else taskdef.runs_repository(container, repository, registry)


def diff_task_definition(ecs_client: Any, target: DeployTarget, image: str, image_repository: str) -> str:
    """What a deploy of ``image`` would change in each service's task definition; changes nothing."""
    ecs = Ecs(ecs_client)
    plans = _plan(ecs, [target], image, image_repository, lambda _line: None)
    parts: list[str] = []
    shown: set[int] = set()
    for plan in plans:
        head = f"# {plan.where}: runs {short(plan.current)}; {_describe_changes(plan.rendered)}\n"
        if not plan.rendered.changed:
            parts.append(head + "# no change: the target containers already run this image\n")
        elif id(plan.rendered) in shown:
            parts.append(head + "# same new revision as above\n")
        else:
            shown.add(id(plan.rendered))
            name = short(plan.current)
            parts.append(head + taskdef.diff_inputs(plan.rendered.old, plan.rendered.new, name, f"{name} (new)"))
    return "".join(parts)
