"""The boot job serves the build queue: one build per pipeline per round, another round for what
arrived meanwhile, a result for every build, EndOfRun when idle, and no request ever lost."""

from __future__ import annotations

import threading

import pytest

from agent.runner import Runner
from chalicelib.contracts import BuildResult, EndOfRun
from localrig.services import wait_until
from tests.agent.agentrig import BRANCH, agent_context, docker_pipeline

pytestmark = pytest.mark.docker


@pytest.fixture
def setup(aws, docker_engine, base_image, registry, tmp_path, monkeypatch):
    return docker_pipeline(aws, docker_engine, base_image, registry.address, tmp_path, monkeypatch)


def kinds(messages):
    return [type(m).__name__ for m in messages]


def test_requests_arriving_during_a_build_give_exactly_one_more_build(setup):
    repo, world, config = setup
    first = repo.commit({"app.txt": "v2\n"}, "v2")
    world.send(commit=first)
    ctx = agent_context(config)
    pushed: list[str] = []

    def during_first_build(step: str) -> None:
        if step == "build" and not pushed:
            for n in range(3):
                pushed.append(repo.commit({"app.txt": f"v3.{n}\n"}, f"v3.{n}"))
                world.send(commit=pushed[-1])

    ctx.progress.after_step.append(during_first_build)
    stats = Runner(ctx).run(exit_when_idle=True)

    messages = world.close_messages()
    assert kinds(messages) == ["BuildResult", "BuildResult", "EndOfRun"]
    assert [m.commit for m in messages[:2]] == [first, pushed[-1]]
    assert [m.outcome for m in messages[:2]] == ["succeeded", "succeeded"]
    assert [c.subject for c in messages[1].commits] == ["v3.2", "v3.1", "v3.0"]
    assert messages[2].builder_instance_id == "i-0123456789abcdef0"
    assert (stats.rounds, stats.builds, stats.end_of_runs) == (2, 2, 1)
    assert world.queue_depth() == 0


def test_duplicates_raw_bodies_and_the_legacy_build_message_make_one_build(setup):
    repo, world, config = setup
    world.send()
    world.send(envelope=False)
    world.send(body="build")

    stats = Runner(agent_context(config)).run(exit_when_idle=True)

    assert kinds(world.close_messages()) == ["BuildResult", "EndOfRun"]
    assert stats.builds == 1
    assert world.queue_depth() == 0


def test_malformed_and_unknown_requests_never_block_the_others_and_go_to_the_dlq(setup):
    repo, world, config = setup
    world.send(body="{not json")
    world.send(repository="other-repo")
    world.send(body='{"type": "pushdeploy.build_request", "version": 1}')
    world.send()
    lines: list[str] = []

    Runner(agent_context(config, lines)).run(exit_when_idle=True)

    messages = world.close_messages()
    assert kinds(messages) == ["BuildResult", "EndOfRun"]
    assert messages[0].outcome == "succeeded"
    assert world.queue_depth() == 0  # moved at once, not after five receives
    reasons = sorted(reason for _, reason in world.dead_letters())
    assert len(reasons) == 3
    assert any("unknown pipeline 'other-repo/production'" in reason for reason in reasons)
    assert any("malformed request: (message): not JSON" in reason for reason in reasons)


def test_a_failed_build_is_reported_and_its_request_answered(setup):
    repo, world, config = setup
    sha = repo.commit({"Dockerfile": "FROM local/busybox:latest\nRUN false\n"}, "broken")
    world.send(commit=sha)

    Runner(agent_context(config)).run(exit_when_idle=True)

    result, end = world.close_messages()
    assert isinstance(result, BuildResult) and isinstance(end, EndOfRun)
    assert result.outcome == "failed" and result.commit == sha and "build" in result.error
    assert world.queue_depth() == 0


def test_with_an_empty_queue_the_run_ends_at_once_with_end_of_run(setup):
    _, world, config = setup

    stats = Runner(agent_context(config)).run(exit_when_idle=True)

    (end,) = world.close_messages()
    assert isinstance(end, EndOfRun)
    assert end.agent_exited is False  # --exit-when-idle: the machine's next boot (or the rig) serves the queue
    assert (stats.rounds, stats.builds) == (0, 0)


def test_after_end_of_run_it_keeps_serving_the_queue_and_asks_again(setup):
    repo, world, config = setup
    runner = Runner(agent_context(config), max_poll_seconds=1)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    seen: list = []

    def published(count: int) -> bool:
        seen.extend(world.close_messages())
        return len(seen) >= count

    wait_until(lambda: published(1), 60, "the first EndOfRun")
    world.send()
    wait_until(lambda: published(3), 120, "a build result and a second EndOfRun")
    runner.stop.set()
    thread.join(timeout=60)

    assert kinds(seen) == ["EndOfRun", "BuildResult", "EndOfRun"]
    assert seen[1].pipeline == f"sample/{BRANCH}"
    assert not thread.is_alive()
