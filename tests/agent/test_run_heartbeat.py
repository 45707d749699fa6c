"""The agent's heartbeat as the reconcile reads it: the ``pushdeploy:agent`` tag on the builder
instance says ``busy`` while a build runs (rewritten all along, however long it takes), naming the
message group it serves on a FIFO queue (a pool: which pipelines already have a builder), and
``idle`` otherwise; a tag that cannot be written costs a log line, never a build."""

from __future__ import annotations

import threading

import pytest

from agent.heartbeat import BeatWriter
from agent.runner import Runner
from chalicelib.contracts import BuildResult
from localrig.services import wait_until
from tests.agent.agentrig import agent_context, beat_of, builder_instance, make_repo, make_world, state_of, write_config


@pytest.fixture
def builder(request, aws, tmp_path):
    """A builder instance in moto, and settings naming it; the source is missing, so a build fails fast.
    Parametrized True: the build queue is FIFO."""
    ec2 = aws.client("ec2")
    instance = builder_instance(ec2)
    repo = make_repo(tmp_path)
    world = make_world(aws, "127.0.0.1:5000", fifo=getattr(request, "param", False))
    config = write_config(tmp_path / "agent.toml", world, repo, tmp_path / "cache")
    config.write_text(config.read_text().replace("i-0123456789abcdef0", instance)
                      .replace(str(repo.bare), str(tmp_path / "missing.git")))
    return world, config, ec2, instance


@pytest.mark.parametrize("builder", [False, True], ids=["standard", "fifo"], indirect=True)
def test_the_tag_says_busy_during_a_build_rewritten_all_along_and_idle_after(builder):
    world, config, ec2, instance = builder
    ctx = agent_context(config)
    beat = BeatWriter(ctx.clients.ec2, instance, ctx.progress.line, every=0.05)
    stop = threading.Event()
    runner = Runner(ctx, max_poll_seconds=1, stop=stop, beat=beat)
    during: list = []

    def a_long_build(line: str) -> None:
        if "build sample/production started" in line:
            wait_until(lambda: state_of(ec2, instance) == "busy", 30, "the busy beat")
            writes = beat.writes
            wait_until(lambda: beat.writes >= writes + 3, 30, "beats during the build")
            during.append(beat_of(ec2, instance))

    ctx.progress.sinks.append(a_long_build)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: state_of(ec2, instance) == "idle", 30, "the idle beat")
        world.send()
        wait_until(lambda: any(isinstance(m, BuildResult) for m in world.close_messages()), 60, "the result")
        wait_until(lambda: state_of(ec2, instance) == "idle", 30, "idle again")
    finally:
        stop.set()
        thread.join(timeout=60)

    (busy,) = during
    assert (busy.state, busy.group) == ("busy", "sample/production" if world.fifo else None)
    assert beat_of(ec2, instance).since >= busy.since
    assert beat_of(ec2, instance).group is None


def test_a_tag_that_cannot_be_written_is_logged_once_and_the_build_goes_on(builder):
    world, config, ec2, _ = builder
    lines: list[str] = []
    ctx = agent_context(config, lines)
    beat = BeatWriter(ctx.clients.ec2, "not-an-instance-id", ctx.progress.line, every=0.05)
    world.send()

    stats = Runner(ctx, beat=beat).run(exit_when_idle=True)

    assert stats.builds == 1
    assert [type(m).__name__ for m in world.close_messages()] == ["BuildResult", "EndOfRun"]
    failures = [line for line in lines if "heartbeat: tag pushdeploy:agent on not-an-instance-id not written" in line]
    assert len(failures) == 1


def test_without_an_instance_id_no_tag_is_written_and_one_line_says_so(builder):
    world, config, ec2, instance = builder
    lines: list[str] = []
    ctx = agent_context(config, lines)
    ctx.instance_id = None

    Runner(ctx).run(exit_when_idle=True)

    assert beat_of(ec2, instance) is None
    assert sum("heartbeat: no instance id" in line for line in lines) == 1
