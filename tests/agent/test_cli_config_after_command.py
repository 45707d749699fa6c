"""docs/agent.md: `--config` may come before or after the command, deploy, rollback and diff included;
after the command it is the file those read their region from."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from agent.cli import main

IMAGE = "127.0.0.1:5000/production/sample:20261126120000-bbbbbbb"
SETTINGS = ('[agent]\nregion = "ap-northeast-1"\n'
            'queue_url = "https://sqs.ap-northeast-1.amazonaws.com/111122223333/pushdeploy-build"\n'
            'close_topic_arn = "arn:aws:sns:ap-northeast-1:111122223333:pushdeploy-close"\n'
            '[[pipelines]]\nrepository = "sample"\nbranch = "production"\nsource_url = "/srv/git/sample.git"\n'
            'image_repository = "production/sample"\n')


@pytest.fixture
def config(aws: boto3.Session, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    ecs = boto3.client("ecs", region_name="ap-northeast-1")
    ecs.create_cluster(clusterName="production-cluster")
    arn = ecs.register_task_definition(family="production-task", containerDefinitions=[
        {"name": "app", "image": IMAGE.replace("bbbbbbb", "aaaaaaa"), "memory": 64}])["taskDefinition"]
    ecs.create_service(cluster="production-cluster", serviceName="web", taskDefinition=arn["taskDefinitionArn"],
                       desiredCount=1)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    path = tmp_path / "agent.toml"
    path.write_text(SETTINGS)
    return path


@pytest.mark.parametrize("command", [["diff", "--image", IMAGE], ["deploy", "--image", IMAGE, "--dry-run"]])
def test_config_after_the_command_is_accepted_and_read(config: Path, command: list[str],
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    status = main([command[0], "--config", str(config), "--cluster", "production-cluster", "--service", "web",
                   *command[1:]])

    assert status == 0, capsys.readouterr().err
    assert f'+      "image": "{IMAGE}",' in capsys.readouterr().out


def test_rollback_takes_config_after_the_command(config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["rollback", "--config", str(config), "--cluster", "production-cluster", "--service", "web"])

    # the service has one revision: the command ran (region from the file) and found nothing older
    assert status == 1
    assert "no ACTIVE revision of production-task older than" in capsys.readouterr().err
