"""A minimal settings file with one pipeline whose source keys the test writes."""

from __future__ import annotations

from pathlib import Path

HEAD = '''
[agent]
region = "us-east-1"
queue_url = "https://sqs.us-east-1.amazonaws.com/111122223333/pushdeploy-build"
close_topic_arn = "arn:aws:sns:us-east-1:111122223333:pushdeploy-close"

[[pipelines]]
repository = "octo/app"
branch = "main"
image_repository = "production/app"
'''


def settings_file(tmp: Path, source: str) -> Path:
    """``source``: the pipeline's source_* lines, as an operator writes them."""
    path = tmp / "agent.toml"
    path.write_text(HEAD + source.strip() + "\n")
    return path
