"""A settings file that does not load must not leave the builder running: ``run`` asks for the stop
itself from /etc/pushdeploy/agent.env's values (the close topic and region) and exits 4, and the
systemd stop hook sends nothing after a 4 but still asks when the agent died without asking,
even when the file that failed is the one it would read."""

from __future__ import annotations

import pytest

from chalicelib.contracts import EndOfRun
from tests.agent.agentrig import make_repo, make_world, write_config
from tests.agent.test_cli import agent

OFF_EC2 = "http://127.0.0.1:9"  # nothing listens: IMDS unreachable, as on a laptop


@pytest.fixture
def world(aws, tmp_path):
    return make_world(aws, "127.0.0.1:5000")


def fallback_env(world, **extra: str) -> dict[str, str]:
    return {"PUSHDEPLOY_CLOSE_TOPIC_ARN": world.close_topic_arn, "AWS_DEFAULT_REGION": "us-east-1",
            "PUSHDEPLOY_IMDS_URL": OFF_EC2, **extra}


def test_first_boot_before_the_settings_parameter_exists_still_asks_to_stop(world, tmp_path):
    missing = tmp_path / "agent.toml"

    proc = agent("run", "--config", str(missing), env=fallback_env(world))

    assert proc.returncode == 4, proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line == (f"pushdeploy-agent: error: agent could not start: {missing}: file not found "
                    "(use --config or PUSHDEPLOY_CONFIG) (end-of-run sent)")
    (message,) = world.close_messages()
    assert isinstance(message, EndOfRun) and message.agent_exited is True
    assert message.reason == f"agent could not start: {missing}: file not found (use --config or PUSHDEPLOY_CONFIG)"


def test_a_settings_file_edited_wrong_by_hand_still_asks_to_stop_naming_the_key(world, tmp_path):
    config = tmp_path / "agent.toml"
    config.write_text('[agent]\nregion = "us-east-1"\nqueue_url = 5\n')

    proc = agent("run", "--config", str(config), env=fallback_env(world))

    assert proc.returncode == 4, proc.stderr
    (message,) = world.close_messages()
    assert "agent.queue_url: expected a string, got an integer" in message.reason


def test_without_settings_or_fallback_run_fails_with_status_1_so_the_stop_hook_tries(world, tmp_path):
    proc = agent("run", "--config", str(tmp_path / "agent.toml"),
                 env={"PUSHDEPLOY_CLOSE_TOPIC_ARN": "", "PUSHDEPLOY_IMDS_URL": OFF_EC2})

    assert proc.returncode == 1
    assert "end-of-run not sent: no settings and no fallback: PUSHDEPLOY_CLOSE_TOPIC_ARN" in proc.stderr
    assert world.close_messages() == []


def test_the_stop_hook_sends_nothing_after_the_agent_sent_its_own(world, tmp_path):
    config = write_config(tmp_path / "agent.toml", world, make_repo(tmp_path), tmp_path / "cache")

    proc = agent("end-of-run", "--if-service-failed", "--config", str(config),
                 env={"SERVICE_RESULT": "exit-code", "EXIT_CODE": "exited", "EXIT_STATUS": "4"})

    assert proc.returncode == 0, proc.stderr
    assert "end-of-run not sent: the agent published its own end-of-run before exiting" in proc.stdout
    assert world.close_messages() == []


def test_the_stop_hook_asks_after_a_failed_exit_that_sent_nothing(world, tmp_path):
    config = write_config(tmp_path / "agent.toml", world, make_repo(tmp_path), tmp_path / "cache")

    proc = agent("end-of-run", "--if-service-failed", "--config", str(config),
                 env={"SERVICE_RESULT": "exit-code", "EXIT_CODE": "exited", "EXIT_STATUS": "1"})

    assert proc.returncode == 0, proc.stderr
    (message,) = world.close_messages()
    assert message.reason == "agent service ended: exit-code (exited 1)" and message.agent_exited is True


def test_the_stop_hook_does_not_depend_on_the_settings_file_that_failed(world, tmp_path):
    """ExecStartPre could not fetch the settings (no parameter yet): the unit failed before ``run``."""
    proc = agent("end-of-run", "--if-service-failed", "--config", str(tmp_path / "agent.toml"),
                 env=fallback_env(world, SERVICE_RESULT="exit-code", EXIT_CODE="exited", EXIT_STATUS="254"))

    assert proc.returncode == 0, proc.stderr
    (message,) = world.close_messages()
    assert message.agent_exited is True and message.builder_instance_id is None
    assert message.reason.startswith("agent service ended: exit-code (exited 254); settings file did not load: ")
    assert "file not found" in message.reason
