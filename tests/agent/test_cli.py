"""The one entry point, as an operator meets it: help everywhere, one-line failures, and the
end-of-run command the systemd unit runs after a crash, against moto for real."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import build_parser
from agent.ecs.journal import DeployJournal
from chalicelib.contracts import BuildResult, EndOfRun
from tests.agent.agentrig import docker_pipeline, make_repo, make_world, write_config

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = ["run", "build", "end-of-run", "deploy", "rollback", "diff"]


def agent(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "agent", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=dict(os.environ, **(env or {})))


@pytest.mark.parametrize("command", [None, *COMMANDS])
def test_every_command_has_help(command):
    proc = agent(*([command] if command else []), "--help")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("usage: pushdeploy-agent")


def test_config_may_come_before_or_after_the_command():
    parser = build_parser()
    assert parser.parse_args(["--config", "a.toml", "run"]).config == "a.toml"
    assert parser.parse_args(["run", "--config", "b.toml"]).config == "b.toml"


def test_a_missing_settings_file_fails_with_one_line_naming_it(tmp_path):
    proc = agent("build", "--pipeline", "sample/production", "--config", str(tmp_path / "agent.toml"))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"pushdeploy-agent: error: {tmp_path / 'agent.toml'}: file not found (use --config or PUSHDEPLOY_CONFIG)"]


@pytest.fixture
def world_config(aws, tmp_path):
    """No registry needed: these commands never reach docker (the address is only written in the file)."""
    repo = make_repo(tmp_path)
    world = make_world(aws, "127.0.0.1:5000")
    return world, write_config(tmp_path / "agent.toml", world, repo, tmp_path / "cache"), repo


@pytest.fixture
def docker_world_config(aws, registry, base_image, docker_engine, tmp_path, monkeypatch):
    repo, world, config = docker_pipeline(aws, docker_engine, base_image, registry.address, tmp_path, monkeypatch)
    return world, config, repo


def test_an_unknown_pipeline_fails_with_one_line_listing_the_configured_ones(world_config):
    _, config, _ = world_config
    proc = agent("build", "--pipeline", "sample/main", "--config", str(config))
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1].endswith("no pipeline 'sample/main' (configured: sample/production)")


def test_end_of_run_publishes_the_stop_request(world_config):
    world, config, _ = world_config

    proc = agent("end-of-run", "--config", str(config), "--reason", "by hand")

    assert proc.returncode == 0, proc.stderr
    (message,) = world.close_messages()
    assert isinstance(message, EndOfRun)
    assert (message.builder_instance_id, message.reason) == ("i-0123456789abcdef0", "by hand")
    assert message.agent_exited is False  # sent by hand: an agent may still serve the queue
    assert "end-of-run ok" in proc.stdout


def test_after_a_crash_systemd_s_stop_hook_sends_end_of_run_but_not_after_a_clean_exit(world_config):
    world, config, _ = world_config

    clean = agent("end-of-run", "--if-service-failed", "--config", str(config), env={"SERVICE_RESULT": "success"})
    assert clean.returncode == 0 and world.close_messages() == []

    crashed = agent("end-of-run", "--if-service-failed", "--config", str(config),
                    env={"SERVICE_RESULT": "signal", "EXIT_CODE": "killed"})
    assert crashed.returncode == 0, crashed.stderr
    (message,) = world.close_messages()
    assert message.reason == "agent service ended: signal (killed)"
    assert message.agent_exited is True  # Restart=no: nothing serves the queue, so close stops the builder anyway
    assert "agent_exited=true" in crashed.stdout


def test_the_instance_id_comes_from_imdsv2_when_not_configured(world_config, httpserver):
    world, config, _ = world_config
    config.write_text(config.read_text().replace('instance_id = "i-0123456789abcdef0"', 'instance_id = ""'))
    httpserver.expect_request("/latest/api/token", method="PUT",
                              headers={"X-aws-ec2-metadata-token-ttl-seconds": "60"}).respond_with_data("tok")
    httpserver.expect_request("/latest/meta-data/instance-id", method="GET",
                              headers={"X-aws-ec2-metadata-token": "tok"}).respond_with_data("i-0feedface0000000")

    proc = agent("end-of-run", "--config", str(config), env={"PUSHDEPLOY_IMDS_URL": httpserver.url_for("").rstrip("/")})

    assert proc.returncode == 0, proc.stderr
    assert world.close_messages()[0].builder_instance_id == "i-0feedface0000000"


def test_off_ec2_the_end_of_run_names_no_instance(world_config, tmp_path):
    world, config, _ = world_config
    config.write_text(config.read_text().replace('instance_id = "i-0123456789abcdef0"', 'instance_id = ""'))

    proc = agent("end-of-run", "--config", str(config), env={"PUSHDEPLOY_IMDS_URL": "http://127.0.0.1:9"})

    assert proc.returncode == 0, proc.stderr
    assert world.close_messages()[0].builder_instance_id is None


@pytest.mark.docker
def test_build_command_builds_deploys_and_publishes_the_result(docker_world_config, tmp_path):
    world, config, repo = docker_world_config

    proc = agent("build", "--pipeline", "sample/production", "--config", str(config))

    assert proc.returncode == 0, proc.stderr
    (result,) = world.close_messages()
    assert isinstance(result, BuildResult) and result.outcome == "succeeded"
    assert DeployJournal(tmp_path / "cache", print).read("sample/production") is None  # published: nothing to verify
    steps = [line.split("] ", 1)[1].split(" ", 1)[0] for line in proc.stdout.splitlines() if " ok (" in line]
    assert steps == ["config", "source", "login", "deployed", "build", "push", "deploy", "publish"]


@pytest.mark.docker
def test_a_failed_build_command_exits_non_zero_with_one_line(docker_world_config):
    world, config, repo = docker_world_config
    repo.commit({"Dockerfile": "FROM local/busybox:latest\nRUN exit 4\n"}, "broken")

    proc = agent("build", "--pipeline", "sample/production", "--config", str(config), "--no-publish")

    assert proc.returncode == 1
    assert len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith("pushdeploy-agent: error: build sample/production failed: build ")
    assert world.close_messages() == []


def test_a_run_that_cannot_read_its_queue_still_asks_to_stop_and_says_why(world_config):
    world, config, _ = world_config
    gone = world.queue_url.rsplit("/", 1)[0] + "/no-such-queue"
    config.write_text(config.read_text().replace(world.queue_url, gone)
                      .replace("[agent]\n", "[agent]\nretry_budget_seconds = 0\n"))

    proc = agent("run", "--exit-when-idle", "--config", str(config))

    assert proc.returncode == 4  # its own EndOfRun went out: the stop hook sends none
    (reason,) = proc.stderr.strip().splitlines()
    assert reason.startswith(f"pushdeploy-agent: error: queue {gone}: receive failed")
    assert reason.endswith("(end-of-run sent)")
    (message,) = world.close_messages()
    assert isinstance(message, EndOfRun) and message.reason.startswith("agent stopped by an error: QueueError")
    assert message.agent_exited is True
