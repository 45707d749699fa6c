"""An agent killed mid-deploy (after a service changed, before the result went out) must not make
the next run report ``skipped`` for an image nobody checked: the deploy journal it left makes the
next build of that pipeline verify the rollout, or deploy again when the service is back where it
was, so the team gets one correct final message for the push."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agent.ecs.journal import DeployJournal
from agent.runner import Runner
from chalicelib.contracts import BuildResult, EndOfRun
from localrig.services import wait_until
from tests.agent.agentrig import agent_context, docker_pipeline

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parents[2]
PIPELINE = "sample/production"


@pytest.fixture
def setup(aws, docker_engine, base_image, registry, tmp_path, monkeypatch):
    repo, world, config = docker_pipeline(aws, docker_engine, base_image, registry.address, tmp_path, monkeypatch)
    config.write_text(config.read_text().replace("visibility_timeout_seconds = 30", "visibility_timeout_seconds = 3"))
    return repo, world, config, tmp_path


def killed_after_the_update(world, config: Path) -> str:
    """Serve one request in a child that is SIGKILLed right after update_service; return the new revision."""
    world.send()
    proc = subprocess.run([sys.executable, "-m", "tests.agent.killed_mid_deploy", str(config),
                           f"update {world.cluster}/{world.service}:"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == -9, proc.stdout + proc.stderr
    assert world.close_messages() == []  # it died before publishing anything
    revision = world.service_task_definition()["taskDefinitionArn"]
    assert revision != world.initial_revision
    wait_until(lambda: world.visible() == 1, 60, "the request to come back after the visibility timeout")
    return revision


def next_run(config: Path) -> list[str]:
    lines: list[str] = []
    Runner(agent_context(config, lines)).run(exit_when_idle=True)
    return lines


def test_the_next_run_verifies_the_interrupted_rollout_and_reports_it_deployed(setup):
    repo, world, config, tmp = setup
    revision = killed_after_the_update(world, config)
    journal = DeployJournal(tmp / "cache", print)
    assert journal.read(PIPELINE).services[0].new_task_definition == revision

    lines = next_run(config)

    result, end = world.close_messages()
    assert isinstance(result, BuildResult) and isinstance(end, EndOfRun)
    assert result.outcome == "succeeded", result.error  # not "skipped": the rollout was checked
    assert [(s.previous_task_definition, s.new_task_definition) for s in result.services] == [
        (world.initial_revision, revision)]
    assert world.service_task_definition()["taskDefinitionArn"] == revision  # verified, not deployed again
    assert any("the interrupted deploy moved it to production-task:2; checking its rollout" in line for line in lines)
    assert journal.read(PIPELINE) is None  # cleared once the result was published
    assert world.queue_depth() == 0


def test_a_service_found_back_on_its_previous_revision_is_deployed_again(setup):
    _, world, config, _ = setup
    revision = killed_after_the_update(world, config)
    world.client("ecs").update_service(cluster=world.cluster, service=world.service,
                                       taskDefinition=world.initial_revision)  # e.g. the circuit breaker

    lines = next_run(config)

    result, _end = world.close_messages()
    assert result.outcome == "succeeded", result.error
    assert any("runs production-task:1, not the interrupted deploy's production-task:2" in line for line in lines)
    (service,) = result.services
    assert service.previous_task_definition == world.initial_revision
    assert service.new_task_definition not in (world.initial_revision, revision)  # a fresh deploy
    assert world.service_task_definition()["taskDefinitionArn"] == service.new_task_definition


def test_a_newer_commit_supersedes_the_interrupted_deploy(setup):
    repo, world, config, tmp = setup
    revision = killed_after_the_update(world, config)
    newer = repo.commit({"app.txt": "hello v3\n"}, "v3")

    lines = next_run(config)

    result, _end = world.close_messages()
    assert result.outcome == "succeeded" and result.commit == newer
    assert result.services[0].previous_task_definition == revision
    assert any("deploy journal: the interrupted deploy of" in line and "is superseded by this build" in line
               for line in lines)
    assert DeployJournal(tmp / "cache", print).read(PIPELINE) is None
