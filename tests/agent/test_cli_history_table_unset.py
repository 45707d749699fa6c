"""`history` and `status` need the build history table: without `[agent] history_table` they say what to set
(and who writes it) instead of a boto3 error."""

from __future__ import annotations

import pytest

from agent.cli import main

SETTINGS = """
[agent]
region = "us-east-1"
queue_url = "https://sqs.us-east-1.amazonaws.com/123456789012/pushdeploy-build"
close_topic_arn = "arn:aws:sns:us-east-1:123456789012:pushdeploy-close"

[[pipelines]]
repository = "sample"
branch = "production"
source_url = "/srv/git/sample.git"
image_repository = "production/sample"
"""


@pytest.mark.parametrize("command", [["history", "sample/production"], ["status"]])
def test_without_history_table_the_error_names_the_key_and_infra_record(command, tmp_path, capsys):
    config = tmp_path / "agent.toml"
    config.write_text(SETTINGS)

    status = main([*command, "--config", str(config)])

    assert status == 1
    assert "[agent] history_table is not set (python -m infra record writes it" in capsys.readouterr().err
