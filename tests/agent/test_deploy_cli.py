"""The deploy, rollback and diff commands: one progress line per step with elapsed time, and a
non-zero exit with a one-line reason on failure."""

import os
import re
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from agent import deploy_cli
from agent.cli import main

ROOT = Path(__file__).resolve().parents[2]
OLD = "127.0.0.1:5000/production/sample:20261126110000-aaaaaaa"
NEW = "127.0.0.1:5000/production/sample:20261126120000-bbbbbbb"
STEP = re.compile(r"^\[\s*\d+\.\d+s\] ")


@pytest.fixture
def ecs(aws):
    client = boto3.client("ecs")
    client.create_cluster(clusterName="production-cluster")
    return client


def serve(ecs, name="web", desired=1):
    arn = ecs.register_task_definition(family="production-task", containerDefinitions=[
        {"name": "app", "image": OLD, "memory": 64}])["taskDefinition"]["taskDefinitionArn"]
    ecs.create_service(cluster="production-cluster", serviceName=name, taskDefinition=arn, desiredCount=desired)
    return arn


def running(ecs, name="web"):
    return ecs.describe_services(cluster="production-cluster", services=[name])["services"][0]["taskDefinition"]


def test_deploy_prints_one_timed_line_per_step_and_exits_zero(ecs, capsys):
    serve(ecs)

    status = main(["deploy", "--cluster", "production-cluster", "--service", "web", "--image", NEW])

    out = capsys.readouterr().out.splitlines()
    assert status == 0
    assert out and all(STEP.match(line) for line in out)
    assert any("update production-cluster/web: production-task:1 -> production-task:2" in line for line in out)
    assert any("deploy succeeded: production-cluster/web on production-task:2" in line for line in out)
    assert running(ecs).endswith("production-task:2")


def test_deploy_dry_run_prints_the_diff_and_changes_nothing(ecs, capsys):
    old = serve(ecs)

    status = main(["deploy", "--cluster", "production-cluster", "--service", "web", "--image", NEW,
                              "--dry-run"])

    out = capsys.readouterr().out
    assert status == 0
    assert f'+      "image": "{NEW}",' in out
    assert running(ecs) == old


def test_a_failed_deploy_exits_non_zero_with_one_line_reason(ecs, capsys):
    serve(ecs)

    status = main(["deploy", "--cluster", "production-cluster", "--service", "nope", "--image", NEW])

    err = capsys.readouterr().err
    assert status == deploy_cli.EXIT_FAILED
    assert err.count("\n") == 1
    assert err.startswith("pushdeploy-agent: error: deploy failed: cluster production-cluster: services not found")


def test_a_timed_out_deploy_is_rolled_back_or_failed_with_status_and_reason(ecs, capsys):
    serve(ecs, desired=2)  # moto never completes a desiredCount 2 rollout: its rollback cannot complete either

    status = main(["deploy", "--cluster", "production-cluster", "--service", "web", "--image", NEW,
                              "--timeout", "0"])

    err = capsys.readouterr().err
    assert status == deploy_cli.EXIT_FAILED
    assert "rollout not completed after 0s" in err
    assert "rollback failed" in err
    assert running(ecs).endswith("production-task:1")


def test_rollback_and_diff_commands(ecs, capsys):
    serve(ecs)
    assert main(["deploy", "--cluster", "production-cluster", "--service", "web", "--image", NEW]) == 0
    capsys.readouterr()

    assert main(["diff", "--cluster", "production-cluster", "--service", "web", "--image", OLD]) == 0
    assert f'+      "image": "{OLD}",' in capsys.readouterr().out

    assert main(["rollback", "--cluster", "production-cluster", "--service", "web"]) == 0
    out = capsys.readouterr().out
    assert "runs production-task:2, going to production-task:1" in out
    assert running(ecs).endswith("production-task:1")

    assert main(["rollback", "--cluster", "production-cluster", "--service", "web"]) == 1
    assert capsys.readouterr().err.startswith(
        "pushdeploy-agent: error: rollback failed: no ACTIVE revision of production-task")


def test_bad_image_is_a_one_line_error(aws, capsys):
    status = main(["diff", "--cluster", "c", "--service", "web", "--image", "Not An Image"])
    assert status == 1
    assert capsys.readouterr().err == "pushdeploy-agent: error: image reference contains whitespace: 'Not An Image'\n"


@pytest.mark.parametrize("command", ["deploy", "rollback", "diff"])
def test_every_command_has_help(command):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "agent", command, "--help"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "--cluster" in proc.stdout and "--service" in proc.stdout


def test_without_a_region_the_agent_settings_file_gives_it(aws, monkeypatch, tmp_path, capsys):
    """On the builder an operator types `pushdeploy-agent diff ...`: the region is the agent's own."""
    from agent.cli import main as agent_main

    tokyo = boto3.client("ecs", region_name="ap-northeast-1")
    tokyo.create_cluster(clusterName="production-cluster")
    serve(tokyo)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    config = tmp_path / "agent.toml"
    config.write_text(
        '[agent]\nregion = "ap-northeast-1"\n'
        'queue_url = "https://sqs.ap-northeast-1.amazonaws.com/111122223333/pushdeploy-build"\n'
        'close_topic_arn = "arn:aws:sns:ap-northeast-1:111122223333:pushdeploy-close"\n'
        '[[pipelines]]\nrepository = "sample"\nbranch = "production"\nsource_url = "/srv/git/sample.git"\n'
        'image_repository = "production/sample"\n')

    status = agent_main(["--config", str(config), "diff", "--cluster", "production-cluster", "--service", "web",
                         "--image", NEW])

    assert status == 0, capsys.readouterr().err
    assert f'+      "image": "{NEW}",' in capsys.readouterr().out
