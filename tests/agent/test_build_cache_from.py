"""Warm caches across a pool: a builder that lacks the image the service runs (another builder built it, or
it is new) pulls it and builds with ``--cache-from`` it, so the classic builder reuses its layers instead of
running every step again; a pull that fails (the image is not in the registry, no access) costs only that
reuse, never the build. Real docker: the shared engine, the test registry."""

from __future__ import annotations

import uuid

import pytest

from agent.runner import Runner
from chalicelib.contracts import BuildResult
from tests.agent.agentrig import agent_context, docker_pipeline

pytestmark = pytest.mark.docker


@pytest.fixture
def setup(aws, docker_engine, base_image, registry, tmp_path, monkeypatch):
    """The pipeline, with a Dockerfile step no other test has (so only this test's images can cache it)."""
    repo, world, config = docker_pipeline(aws, docker_engine, base_image, registry.address, tmp_path, monkeypatch)
    marker = uuid.uuid4().hex
    repo.commit({"Dockerfile": f"FROM {base_image}\nRUN echo {marker} > /marker\nCOPY app.txt /app.txt\n"}, "marker")
    return repo, world, config, marker, docker_engine


def build_once(world, config) -> tuple[BuildResult, list[str], list[str]]:
    """One request served by ``run``: its result, the step lines and docker's output lines."""
    lines: list[str] = []
    detail: list[str] = []
    ctx = agent_context(config, lines)
    ctx.progress.detail_sinks.append(detail.append)
    world.send()
    Runner(ctx).run(exit_when_idle=True)
    [result] = [m for m in world.close_messages() if isinstance(m, BuildResult)]
    return result, lines, detail


def step_output(detail: list[str], step: str) -> list[str]:
    """docker's lines for the Dockerfile step whose instruction contains ``step``, up to the next step."""
    start = next(i for i, line in enumerate(detail) if line.startswith("Step ") and step in line)
    end = next((i for i in range(start + 1, len(detail)) if detail[i].startswith("Step ")), len(detail))
    return detail[start + 1:end]


def test_a_builder_without_the_running_image_pulls_it_and_reuses_its_layers(setup):
    repo, world, config, marker, engine = setup
    first, _, _ = build_once(world, config)
    assert first.outcome == "succeeded", first.error
    running = forget_running_image(world, engine)
    repo.commit({"app.txt": "v2\n"}, "v2")

    second, lines, detail = build_once(world, config)

    assert second.outcome == "succeeded", second.error
    assert any("] pull ok" in line and f"image={running}" in line for line in lines)
    assert any("] build ok" in line and f"cache_from={running}" in line for line in lines)
    assert "---> Using cache" in " ".join(step_output(detail, f"RUN echo {marker}"))


def forget_running_image(world, engine) -> str:
    """Make the shared engine a builder that never built what the service runs; return that image."""
    running = world.service_task_definition()["containerDefinitions"][0]["image"]
    image_id = engine.docker("image", "inspect", "--format", "{{.Id}}", running).stdout.decode().strip()
    engine.docker("image", "rm", "--force", image_id)
    assert engine.docker("image", "inspect", running, check=False).returncode != 0
    return running


def test_a_pulled_image_equal_to_the_build_still_deploys_rather_than_skips(setup):
    """Its ID says nothing about whether its rollout was verified (another builder's deploy of it may have been
    interrupted, and that builder holds the journal): only an image this builder had counts for a skip."""
    _, world, config, _, engine = setup
    first, _, _ = build_once(world, config)
    forget_running_image(world, engine)

    again, lines, _ = build_once(world, config)  # the same commit

    assert any("] pull ok" in line for line in lines)
    assert (again.commit, again.outcome) == (first.commit, "succeeded")


def test_a_failed_pull_is_logged_and_the_build_goes_on_without_it(setup):
    _, world, config, _, _ = setup
    missing = world.initial_image  # what the service runs before the first build: never pushed anywhere

    result, lines, _ = build_once(world, config)

    assert result.outcome == "succeeded", result.error
    assert any(f"] cache: {missing} not pulled, the build goes on without its layers: pull {missing}" in line
               for line in lines)
    assert any("] build ok" in line and "cache_from=" not in line for line in lines)


def test_no_pull_when_the_engine_has_the_running_image(setup):
    _, world, config, _, _ = setup
    build_once(world, config)

    _, lines, _ = build_once(world, config)

    assert not any("] pull " in line for line in lines)
