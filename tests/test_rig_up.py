"""`python -m localrig up` starts the rig, prints what to export and writes it to a file a shell can source,
keeps running, and on SIGTERM stops every part it started before it exits."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest

from localrig import services
from localrig.up import READY_LINE

pytestmark = pytest.mark.docker
START_TIMEOUT = 180.0


def answers(url: str) -> bool:
    try:
        urllib.request.urlopen(url, timeout=2).close()
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False
    return True


def sourced(env_file: Path) -> dict[str, str]:
    done = subprocess.run(["bash", "-c", '. "$1" && env -0', "bash", str(env_file)], capture_output=True,
                          check=True, env={"PATH": "/usr/bin:/bin", "AWS_PROFILE": "someone-else"}, timeout=30)
    return dict(item.split("=", 1) for item in done.stdout.decode().split("\0") if item)


@pytest.fixture
def up(tmp_path, docker_engine, base_image):
    """The command as a user runs it, its output in a file; stopped as a user stops it if a test did not."""
    out = tmp_path / "up.out"
    env = dict(os.environ, DOCKER_HOST=docker_engine.host, PYTHONUNBUFFERED="1")
    with open(out, "wb") as sink:
        popen = subprocess.Popen([sys.executable, "-m", "localrig", "up", "--state-dir", str(tmp_path / "state")],
                                 stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        services.wait_until(lambda: READY_LINE in out.read_text() or popen.poll() is not None, START_TIMEOUT,
                            "localrig up to be ready", interval=0.2)
        assert popen.poll() is None, out.read_text()
        yield popen, out, tmp_path / "state"
    finally:
        if popen.poll() is None:
            popen.send_signal(signal.SIGINT)
            try:
                popen.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(popen.pid, signal.SIGKILL)
                popen.wait(30)


def test_up_prints_and_writes_the_exports_that_reach_the_running_rig(up):
    popen, out, state = up
    env_file = state / "local.env"
    printed = out.read_text()
    exports = [line for line in env_file.read_text().splitlines() if line.startswith("export ")]

    assert f"source {env_file}" in printed
    assert exports and all(line in printed.splitlines() for line in exports)
    env = sourced(env_file)
    assert "AWS_PROFILE" not in env
    session = boto3.Session(region_name=env["AWS_DEFAULT_REGION"], aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                            aws_session_token=env["AWS_SESSION_TOKEN"] or None)
    # `chalice local` serves the routes, so the exports sign as the api_handler function's role (IAM enforced)
    caller = session.client("sts", endpoint_url=env["AWS_ENDPOINT_URL"]).get_caller_identity()
    assert "assumed-role/pushdeploy-rig-api-handler/" in caller["Arn"]
    ssm = session.client("ssm", endpoint_url=env["AWS_ENDPOINT_URL"])
    settings = ssm.get_parameter(Name=env["AGENT_SETTINGS_PARAMETER"])["Parameter"]["Value"]
    assert env["BUILD_QUEUE_URL"] in settings
    assert json.loads(env["BRANCH_FILTER"]) == {"sample": ["production"]}


def test_sigterm_stops_every_part_and_removes_the_env_file(up):
    popen, out, state = up
    env = sourced(state / "local.env")
    run_dir = Path(env["PUSHDEPLOY_RIG_RUN_DIR"])
    lambda_url = json.loads((run_dir / "rig-state.json").read_text())["lambda_url"]
    assert answers(f"{env['AWS_ENDPOINT_URL']}/moto-api/data.json") and answers(f"{lambda_url}/health")

    popen.send_signal(signal.SIGTERM)
    services.wait_until(lambda: popen.poll() is not None, 60, "localrig up to exit after SIGTERM")

    assert popen.returncode == 0, out.read_text()[-2000:]
    assert out.read_text().rstrip().endswith("rig stopped")
    assert not answers(f"{env['AWS_ENDPOINT_URL']}/moto-api/data.json"), "moto still answers"
    assert not answers(f"{lambda_url}/health"), "the Lambda host still answers"
    assert not (state / "local.env").exists() and (run_dir / "local.env").exists()
