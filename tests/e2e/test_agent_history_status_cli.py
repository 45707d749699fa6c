"""`pushdeploy-agent history PIPELINE` and `pushdeploy-agent status` print, with the builder's settings file
(its [agent] history_table, filled by the rig as `infra record` fills it), the builds the rig's history function
recorded and what the service runs, drift included."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from localrig import stories
from localrig.rig import LocalRig
from tests.e2e.conftest import SAMPLE

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]


def agent(rig: LocalRig, *args: str) -> subprocess.CompletedProcess[str]:
    """The command as an operator runs it on the builder: signed as the builder's role (IAM enforced)."""
    env = rig.builder.shell_env()
    return subprocess.run([sys.executable, "-m", "agent", *args, "--config", str(rig.agent_config)],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=60, check=False)


def history_lines(rig: LocalRig, deadline: float) -> list[str]:
    """The history command's output once the asynchronous history write has happened (polled with a deadline)."""
    while time.monotonic() < deadline:
        done = agent(rig, "history", SAMPLE.key)
        assert done.returncode == 0, done.stderr
        if "no builds" not in done.stdout:
            return done.stdout.splitlines()
        time.sleep(0.2)
    raise AssertionError("no build recorded in history")


def test_history_and_status_print_the_build_and_flag_a_hand_deploy(rig):
    report = stories.one_push(rig, SAMPLE)
    assert report.passed, report.checks
    [result] = rig.build_results()

    lines = history_lines(rig, time.monotonic() + 60)
    ecs = rig.client("ecs")
    running = rig.service_task_definition(SAMPLE)
    family = ecs.describe_task_definition(taskDefinition=running)["taskDefinition"]
    copy = ecs.register_task_definition(family=family["family"], containerDefinitions=family["containerDefinitions"])
    ecs.update_service(cluster=SAMPLE.cluster, service=SAMPLE.service,
                       taskDefinition=copy["taskDefinition"]["taskDefinitionArn"])
    status = agent(rig, "status")

    assert lines[0].split()[2:5] == ["succeeded", result.build_id[:12], result.commit[:7]]
    assert any(line.strip().startswith("steps: source ") and "rollout_wait" in line for line in lines)
    assert any(line.strip().startswith(f"{SAMPLE.cluster}/{SAMPLE.service}: ") for line in lines)
    assert status.returncode == 0, status.stderr
    [service_line] = [line for line in status.stdout.splitlines() if f"{SAMPLE.cluster}/{SAMPLE.service}" in line]
    revision = copy["taskDefinition"]["taskDefinitionArn"].rsplit("/", 1)[1]
    assert f" {revision} " in service_line and f"commit {result.commit}" in service_line
    assert f"DRIFT: runs {revision}, pushdeploy last deployed " in service_line
    assert status.stdout.startswith(f"{SAMPLE.key}: last build ")

