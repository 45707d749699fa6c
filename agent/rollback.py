"""A rollback someone asked for (``POST /pipelines/{id}/rollback``): every deploy target's services back to a
named revision or the previous one, reported like a build.

It goes through the queue like a build so that it never races a build of the same pipeline, and it ends in a
``BuildResult`` (``action`` "rollback") in every outcome, because the result is what lets the queue delete the
request and tells the team what happened.
"""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

from agent.builder import BuildContext, result_steps
from agent.buildlog import BuildLog, stream_name
from agent.config import Pipeline
from agent.ecs.api import DeployError
from agent.ecs.deploy import rollback_service
from agent.ecs.rollout import short
from chalicelib.contracts import ACTION_ROLLBACK, BuildResult, ServiceDeployment, StepTiming, utc_now


def rollback_pipeline(ctx: BuildContext, pipeline: Pipeline, to: str | None = None) -> BuildResult:
    """Roll every target service back to ``to`` (None: the revision before the one it runs); never raises an
    Exception. A failing service fails the rollback and stops it: the result names what moved before it."""
    started_at, started, build_id = utc_now(), datetime.now(UTC), uuid.uuid4().hex
    log = BuildLog(ctx.clients.logs, ctx.config.agent.log_group, ctx.config.agent.region, warn=ctx.progress.line)
    log.open(stream_name(pipeline.repository, pipeline.branch, f"{started:%Y%m%d%H%M%S}-rollback"))
    ctx.progress.sinks.append(log.write)
    ctx.progress.detail_sinks.append(log.write)
    moved: list[ServiceDeployment] = []
    outcome, error = "failed", None
    steps: list[StepTiming] = []
    try:
        with ctx.progress.recording_steps() as steps:
            _roll_back_all(ctx, pipeline, to, moved)
        outcome = "succeeded"
    except DeployError as exc:
        error = str(exc)
    except Exception as exc:  # noqa: BLE001 - an unexpected error must still produce a result
        error = f"unexpected {type(exc).__name__}: {exc}"
    finally:
        ctx.progress.line(f"rollback {pipeline.id} {outcome}" + (f": {error}" if error else ""))
        ctx.progress.sinks.remove(log.write)
        ctx.progress.detail_sinks.remove(log.write)
        log.flush()
    return BuildResult(pipeline=pipeline.id, repository=pipeline.repository, branch=pipeline.branch, outcome=outcome,
                       commit=None, started_at=started_at, finished_at=utc_now(), services=tuple(moved), error=error,
                       log=log.location(), builder_instance_id=ctx.instance_id, action=ACTION_ROLLBACK,
                       build_id=build_id, steps=result_steps(steps))


def _roll_back_all(ctx: BuildContext, pipeline: Pipeline, to: str | None, moved: list[ServiceDeployment]) -> None:
    if not pipeline.deploy:
        raise DeployError(f"pipeline {pipeline.id} has no deploy targets: nothing to roll back")
    for target in pipeline.deploy:
        for service in target.services:
            with ctx.progress.step("rollback", pipeline=pipeline.id, service=f"{target.cluster}/{service}") as ids:
                done = rollback_service(ctx.clients.ecs, target.cluster, service, to=to,
                                        wait_timeout=pipeline.wait_timeout_seconds, log=ctx.progress.line,
                                        sleep=time.sleep, clock=time.monotonic)
                ids.update(revision=short(done.new_task_definition), was=short(done.previous_task_definition))
            moved.append(done)
