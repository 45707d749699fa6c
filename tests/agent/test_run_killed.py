"""A killed agent loses nothing: its requests come back to the next run (the heartbeat stops, the
visibility timeout expires); a SIGTERM releases them at once and publishes no result."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from agent.runner import Runner
from localrig.services import wait_until
from tests.agent.agentrig import agent_context, make_repo, make_world, use_docker, write_config

pytestmark = pytest.mark.docker
ROOT = Path(__file__).resolve().parents[2]
SLOW_DOCKERFILE = "FROM local/busybox:latest\nCOPY app.txt /app.txt\nRUN sleep 300\n"


@pytest.fixture
def setup(aws, docker_engine, base_image, registry, tmp_path, monkeypatch):
    use_docker(monkeypatch, docker_engine, tmp_path)
    repo = make_repo(tmp_path, base_image)
    world = make_world(aws, registry.address)
    return repo, world, tmp_path


def start_agent(config: Path, out: Path) -> subprocess.Popen:
    with open(out, "wb") as stream:
        return subprocess.Popen([sys.executable, "-m", "agent", "run", "--config", str(config), "--exit-when-idle"],
                                cwd=ROOT, stdout=stream, stderr=subprocess.STDOUT, start_new_session=True)


def wait_for_line(out: Path, text: str, proc: subprocess.Popen) -> None:
    def seen() -> bool:
        assert proc.poll() is None, f"agent exited early:\n{out.read_text()}"
        return text in out.read_text()

    wait_until(seen, 120, f"agent output {text!r}")


def test_a_killed_agents_request_is_rebuilt_by_the_next_run(setup):
    repo, world, tmp = setup
    repo.commit({"Dockerfile": SLOW_DOCKERFILE}, "slow build")
    config = write_config(tmp / "agent.toml", world, repo, tmp / "cache", visibility=3)
    world.send()
    out = tmp / "agent.out"
    proc = start_agent(config, out)
    wait_for_line(out, "deployed ok", proc)  # received, heartbeat running, now in docker build

    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    wait_until(lambda: world.visible() == 1, 60, "the request to come back after the visibility timeout")
    fixed = repo.commit({"Dockerfile": "FROM local/busybox:latest\nCOPY app.txt /app.txt\n"}, "fast build")

    lines: list[str] = []
    Runner(agent_context(config, lines)).run(exit_when_idle=True)

    messages = world.close_messages()
    assert [type(m).__name__ for m in messages] == ["BuildResult", "EndOfRun"]  # nothing from the killed agent
    assert messages[0].outcome == "succeeded" and messages[0].commit == fixed
    assert world.queue_depth() == 0
    assert any("request(s): " in line and "(delivery 2)" in line for line in lines)  # the log says it came back


def test_sigterm_releases_the_request_at_once_and_publishes_no_result(setup):
    repo, world, tmp = setup
    repo.commit({"Dockerfile": SLOW_DOCKERFILE}, "slow build")
    config = write_config(tmp / "agent.toml", world, repo, tmp / "cache", visibility=120)
    world.send()
    out = tmp / "agent.out"
    proc = start_agent(config, out)
    wait_for_line(out, "deployed ok", proc)

    proc.send_signal(signal.SIGTERM)

    assert proc.wait(timeout=60) == 0, out.read_text()
    assert "terminated by signal" in out.read_text()
    wait_until(lambda: world.visible() == 1, 30, "the released request (visibility timeout is 120 s)")
    assert world.close_messages() == []
