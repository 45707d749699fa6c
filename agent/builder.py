"""One pipeline's build: source -> image -> deploy -> result.

Every path ends in a BuildResult, including an unexpected exception, because the result is what
lets the queue delete the request and tells the team what happened; the seed reported "updated"
whether or not anything was. The full log goes to the build's CloudWatch Logs stream.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from agent import AgentError
from agent.aws import Clients
from agent.buildlog import BuildLog, stream_name
from agent.config import Config, Pipeline
from agent.docker.housekeeping import housekeep
from agent.docker.image import Docker, ecr_login, image_tag
from agent.docker.imageref import parse_image
from agent.ecs.api import DeployError
from agent.ecs.deploy import DeployTarget, deploy_image, images_by_service, verify_interrupted
from agent.ecs.journal import DeployJournal, JournalEntry
from agent.ecs.rollout import short
from agent.git.credentials import credentials_for
from agent.git.source import GitSource, SourceInfo
from agent.progress import Progress
from chalicelib.contracts import BuildResult, ImageInfo, ServiceDeployment, StepTiming, utc_now

# The steps a result reports, in order (docs/api.md "Build history"); "deployed" and "deploy" are the console's
# wrappers around them, "verify" finishes an interrupted deploy's rollout_wait.
RESULT_STEPS = ("source", "login", "build", "push", "register", "update", "rollout_wait", "rollback")
_RESULT_STEP_OF = {"verify": "rollout_wait"}
MAX_RESULT_STEPS = 60  # a rollback of many services has a step each; the SNS size bound stays far away


@dataclass
class BuildContext:
    """What every build needs; built once per command by the CLI, or by tests with real parts."""

    config: Config
    clients: Clients
    progress: Progress
    docker_env: dict[str, str] | None = None
    instance_id: str | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))  # the build's start, in its tag


@dataclass
class _State:
    """What a build has learnt so far, so a failure still reports commit and image."""

    pipeline: Pipeline
    build_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started_at: str = field(default_factory=utc_now)
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    source: SourceInfo | None = None
    tag: str | None = None
    image_id: str | None = None
    image: ImageInfo | None = None
    services: tuple[ServiceDeployment, ...] = ()
    outcome: str = "failed"
    error: str | None = None
    steps: list[StepTiming] = field(default_factory=list)


def targets_of(pipeline: Pipeline) -> list[DeployTarget]:
    return [DeployTarget(t.cluster, t.services, t.containers) for t in pipeline.deploy]


def build_pipeline(ctx: BuildContext, pipeline: Pipeline, *, commit: str | None = None,
                   dry_run: bool = False, force: bool = False) -> BuildResult:
    """Build (and unless ``dry_run``, push and deploy) one pipeline; never raises an Exception. ``force``: push
    and deploy even when the image equals what runs (a redeploy someone asked for), instead of "skipped"."""
    progress = ctx.progress
    log = BuildLog(ctx.clients.logs, ctx.config.agent.log_group, ctx.config.agent.region, warn=progress.line)
    progress.sinks.append(log.write)
    progress.detail_sinks.append(log.write)
    state = _State(pipeline, started=ctx.clock())
    progress.line(f"build {pipeline.id} started" + (f" at commit {commit}" if commit else "")
                  + (" (forced)" if force else "") + (" (dry run)" if dry_run else ""))
    try:
        with progress.recording_steps() as state.steps:
            _build(ctx, state, log, commit, dry_run, force)
    except (AgentError, DeployError) as exc:
        state.outcome, state.error = "failed", str(exc)
    except Exception as exc:  # noqa: BLE001 - an unexpected error must still produce a result
        state.outcome, state.error = "failed", f"unexpected {type(exc).__name__}: {exc}"
    finally:
        progress.line(f"build {pipeline.id} {state.outcome}" + (f": {state.error}" if state.error else ""))
        progress.sinks.remove(log.write)
        progress.detail_sinks.remove(log.write)
        if log.stream is None:
            log.open(stream_name(pipeline.repository, pipeline.branch, state.tag or _no_commit_tag(state)))
        log.flush()
    return _result(ctx, state, log)


def _no_commit_tag(state: _State) -> str:
    return f"{state.started:%Y%m%d%H%M%S}-nocommit"


def _build(ctx: BuildContext, state: _State, log: BuildLog, commit: str | None, dry_run: bool,
           force: bool = False) -> None:
    pipeline = state.pipeline
    source = GitSource(ctx.config.agent.cache_dir, pipeline.id, pipeline.source_url, pipeline.branch,
                       credentials=credentials_for(pipeline.source_auth, ctx.clients))
    info = _fetch(ctx, state, source, commit)
    docker = Docker(ctx.docker_env, detail=ctx.progress.detail)
    with ctx.progress.step("login", pipeline=pipeline.id) as ids:
        registry = ids["registry"] = ecr_login(ctx.clients.ecr, docker, pipeline.registry)
    name = f"{registry}/{pipeline.image_repository}"
    deployed = _deployed_image_ids(ctx, pipeline, docker, name)
    state.tag = image_tag(info.sha, state.started, taken={t for ref in deployed if (t := parse_image(ref).tag)})
    log.open(stream_name(pipeline.repository, pipeline.branch, state.tag))
    cache_from = [ref for ref, local_id in deployed.items() if local_id or _pulled(ctx, docker, ref)]
    image_id = state.image_id = _build_image(ctx, state, docker, name, cache_from)
    housekeep(docker, name, {image_id, *deployed.values()}, ctx.config.agent.keep_images,
              ctx.config.agent.build_cache_limit_mb, ctx.progress.line)
    if not dry_run and _finish_interrupted(ctx, state, source):
        return
    if deployed and set(deployed.values()) == {image_id} and not force:
        _skip(ctx, state, deployed, image_id)
        if not dry_run:
            source.mark_deployed(info.sha)
    elif dry_run:
        _dry_run_deploy(ctx, state)
    else:
        _push(ctx, state, docker, name)
        _deploy(ctx, state, source)


def _fetch(ctx: BuildContext, state: _State, source: GitSource, commit: str | None) -> SourceInfo:
    with ctx.progress.step("source", pipeline=state.pipeline.id) as ids:
        info = state.source = source.fetch(commit)
        ids.update(commit=info.short_sha, subject=repr(info.subject), new_commits=len(info.commits))
    state.tag = image_tag(info.sha, state.started)
    return info


def _build_image(ctx: BuildContext, state: _State, docker: Docker, name: str, cache_from: list[str]) -> str:
    pipeline, tag = state.pipeline, state.tag or ""
    assert state.source is not None
    with ctx.progress.step("build", pipeline=pipeline.id, commit=state.source.short_sha,
                           cache_from=",".join(cache_from)) as ids:
        context = state.source.workdir / pipeline.context
        image_id = docker.build(context, context / pipeline.dockerfile, [f"{name}:{tag}", f"{name}:latest"],
                                pipeline.build_args, pipeline.target, cache_from)
        ids.update(image=f"{name}:{tag}", id=image_id[:19])
    state.image = ImageInfo(reference=f"{name}:{tag}", tag=tag)
    return image_id


def _skip(ctx: BuildContext, state: _State, deployed: dict[str, str | None], image_id: str) -> None:
    """The seed's rule: an image identical to the running one is neither pushed nor deployed."""
    running = next(iter(deployed))
    ref = parse_image(running)
    ctx.progress.line(f"skip {state.pipeline.id}: image {image_id[:19]} is already deployed as {', '.join(deployed)}")
    state.outcome = "skipped"
    state.image = ImageInfo(reference=running, tag=ref.tag or "latest", digest=ref.digest)


def _deployed_image_ids(ctx: BuildContext, pipeline: Pipeline, docker: Docker, name: str) -> dict[str, str | None]:
    """Local image IDs of what the targets run now, read BEFORE the build re-tags ``latest``.

    An image this engine does not have counts as different (None), even when it is pulled next for its
    layers: a needless deploy is harmless and verified, a wrong skip would lose one (another builder's
    interrupted deploy of that image, whose journal is on that builder). Without deploy targets, ``latest``
    is compared. A target service with no container from the image repository fails here, before anything
    is built or pushed: the deploy would refuse it after the push.
    """
    with ctx.progress.step("deployed", pipeline=pipeline.id) as ids:
        targets = targets_of(pipeline)
        refs = [f"{name}:latest"]
        if targets:
            by_service = images_by_service(ctx.clients.ecs, targets, pipeline.image_repository)
            _refuse_unmatched(pipeline, by_service)
            refs = list(dict.fromkeys(image for images in by_service.values() for image in images))
        found = {ref: docker.image_id(ref) for ref in refs}
        ids["images"] = ",".join(refs) or "none"
    return found


def _pulled(ctx: BuildContext, docker: Docker, ref: str) -> bool:
    """Pull an image the service runs, for ``--cache-from``: a builder that never built the pipeline reuses its
    layers. A failure (not pushed yet, another registry, no access) only costs that reuse."""
    try:
        with ctx.progress.step("pull", image=ref):
            docker.pull(ref)
    except AgentError as exc:
        ctx.progress.line(f"cache: {ref} not pulled, the build goes on without its layers: {exc}")
        return False
    return True


def _refuse_unmatched(pipeline: Pipeline, by_service: dict[str, list[str]]) -> None:
    unmatched = [where for where, images in by_service.items() if not images]
    if unmatched:
        named = [c for t in pipeline.deploy for c in t.containers]
        which = f"named {', '.join(dict.fromkeys(named))}" if named else \
            f"running an image from repository {pipeline.image_repository}"
        raise AgentError(f"nothing built: {', '.join(unmatched)} has no container {which}; the deploy "
                         "would refuse it (fix image_repository, or name the containers with containers=)")


def _push(ctx: BuildContext, state: _State, docker: Docker, name: str) -> None:
    assert state.tag is not None
    with ctx.progress.step("push", image=f"{name}:{state.tag}") as ids:
        docker.push(f"{name}:{state.tag}")
        docker.push(f"{name}:latest")
        digest = docker.repo_digest(f"{name}:{state.tag}", name)
        ids["digest"] = digest
    state.image = ImageInfo(reference=f"{name}:{state.tag}", tag=state.tag, digest=digest)


def _deploy(ctx: BuildContext, state: _State, source: GitSource) -> None:
    pipeline = state.pipeline
    assert state.image is not None and state.source is not None
    targets = targets_of(pipeline)
    if not targets:
        ctx.progress.line(f"deploy {pipeline.id}: no deploy targets configured, image pushed only")
        state.outcome = "succeeded"
        source.mark_deployed(state.source.sha)
        return
    with ctx.progress.step("deploy", image=state.image.reference) as ids:
        report = deploy_image(ctx.clients.ecs, targets, state.image.reference, pipeline.image_repository,
                              wait_timeout=pipeline.wait_timeout_seconds, keep_revisions=pipeline.keep_revisions,
                              log=ctx.progress.line, sleep=time.sleep, clock=time.monotonic,
                              before_update=_journal_writer(ctx, state), timed=ctx.progress.timed)
        ids.update(outcome=report.outcome, revisions=",".join(short(s.new_task_definition) for s in report.services))
    state.outcome, state.services, state.error = report.outcome, report.services, report.error
    if report.outcome == "succeeded":
        source.mark_deployed(state.source.sha)


def _finish_interrupted(ctx: BuildContext, state: _State, source: GitSource) -> bool:
    """A deploy of this very image was interrupted (its journal is still there): verify it rather than report
    ``skipped`` for an image that is running but was never checked. False: build on as usual."""
    pipeline = state.pipeline
    entry = DeployJournal(ctx.config.agent.cache_dir, ctx.progress.line).read(pipeline.id)
    if entry is None:
        return False
    if entry.image_id != state.image_id:
        ctx.progress.line(f"deploy journal: the interrupted deploy of {entry.image} (commit {entry.commit[:7]}) "
                          "is superseded by this build")
        return False
    with ctx.progress.step("verify", pipeline=pipeline.id, image=entry.image) as ids:
        report = verify_interrupted(ctx.clients.ecs, entry.services, wait_timeout=pipeline.wait_timeout_seconds,
                                    log=ctx.progress.line)
        ids["outcome"] = report.outcome if report else "not finished: deploying again"
    if report is None:
        return False
    state.outcome, state.services, state.error = report.outcome, report.services, report.error
    state.image = ImageInfo(reference=entry.image, tag=parse_image(entry.image).tag or "latest", digest=entry.digest)
    if report.outcome == "succeeded" and state.source is not None:
        source.mark_deployed(state.source.sha)
    return True


def _journal_writer(ctx: BuildContext, state: _State) -> Callable[[tuple[ServiceDeployment, ...]], None]:
    def write(services: tuple[ServiceDeployment, ...]) -> None:
        assert state.image is not None and state.source is not None
        DeployJournal(ctx.config.agent.cache_dir, ctx.progress.line).write(JournalEntry(
            state.pipeline.id, state.source.sha, state.image.reference, state.image_id or "", services,
            state.image.digest))
    return write


def _dry_run_deploy(ctx: BuildContext, state: _State) -> None:
    assert state.image is not None
    targets = targets_of(state.pipeline)
    if targets:
        report = deploy_image(ctx.clients.ecs, targets, state.image.reference, state.pipeline.image_repository,
                              log=ctx.progress.line, dry_run=True)
        state.services, state.error = report.services, report.error
        state.outcome = "succeeded" if report.outcome == "succeeded" else "failed"
    else:
        state.outcome = "succeeded"
    ctx.progress.line(f"dry run: {state.image.reference} built, nothing pushed or deployed")


def _result(ctx: BuildContext, state: _State, log: BuildLog) -> BuildResult:
    pipeline, source = state.pipeline, state.source
    return BuildResult(
        pipeline=pipeline.id, repository=pipeline.repository, branch=pipeline.branch, outcome=state.outcome,
        commit=source.sha if source else None, started_at=state.started_at, finished_at=utc_now(),
        commits=source.commits if source else (), image=state.image, services=state.services,
        error=state.error, log=log.location(), builder_instance_id=ctx.instance_id,
        build_id=state.build_id, steps=result_steps(state.steps),
    )


def result_steps(recorded: list[StepTiming]) -> tuple[StepTiming, ...]:
    """The recorded steps a result reports, under their result names, at most MAX_RESULT_STEPS (the last)."""
    named = [StepTiming(_RESULT_STEP_OF.get(s.name, s.name), s.started_at, s.seconds, s.ok) for s in recorded]
    return tuple(s for s in named if s.name in RESULT_STEPS)[-MAX_RESULT_STEPS:]

