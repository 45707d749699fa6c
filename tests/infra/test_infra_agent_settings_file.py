"""The [agent] table is rewritten; everything else in the operator's settings file is kept: comments
inside [agent] too, and values such as floats that the agent accepts."""

from __future__ import annotations

import tomllib

import pytest

from agent.config import parse_config
from infra import ProjectFileError
from infra.agent_settings import update_agent_text

VALUES = {"region": "us-east-1", "queue_url": "https://sqs/q", "close_topic_arn": "arn:aws:sns:us-east-1:1:c",
          "log_group": "/pushdeploy/builds", "visibility_timeout_seconds": 900}
OPERATOR_FILE = '''# settings for the builder
[agent]
# a short grace: the builder stops soon after the queue empties
idle_grace_seconds = 1.5   # seconds
region = "eu-west-1"       # the stack's region wins

# the sample app
[[pipelines]]
repository = "sample"
branch = "production"
source_url = "/srv/git/sample.git"   # any git URL
image_repository = "production/sample"
'''


def test_keys_the_operator_set_in_agent_are_kept_and_stack_values_win() -> None:
    text = ('[agent]\nregion = "eu-west-1"\nidle_grace_seconds = 120  # longer\n\n'
            '# first\n[[pipelines]]\nrepository = "a"\n')
    result = update_agent_text(text, VALUES, "f.toml")
    data = tomllib.loads(result)
    assert data["agent"] == {**VALUES, "idle_grace_seconds": 120}
    assert result.endswith('\n# first\n[[pipelines]]\nrepository = "a"\n')


def test_comments_and_floats_inside_agent_survive_and_the_agent_accepts_the_result() -> None:
    result = update_agent_text(OPERATOR_FILE, VALUES, "f.toml")

    for line in ("# a short grace: the builder stops soon after the queue empties",
                 "idle_grace_seconds = 1.5   # seconds", 'region = "us-east-1"       # the stack\'s region wins',
                 "# the sample app", 'source_url = "/srv/git/sample.git"   # any git URL'):
        assert line in result.splitlines()
    assert result.index('visibility_timeout_seconds = 900') < result.index("# the sample app")
    assert parse_config(tomllib.loads(result)).agent.idle_grace_seconds == 1.5


def test_a_second_record_changes_nothing() -> None:
    once = update_agent_text(OPERATOR_FILE, VALUES, "f.toml")
    assert update_agent_text(once, VALUES, "f.toml") == once


def test_a_file_without_agent_gets_the_table_first() -> None:
    result = update_agent_text('# mine\n[[pipelines]]\nrepository = "a"\n', VALUES, "f.toml")
    assert result.startswith("[agent]\n")
    assert tomllib.loads(result) == {"agent": VALUES, "pipelines": [{"repository": "a"}]}
    assert '\n# mine\n[[pipelines]]' in result


def test_strings_are_escaped() -> None:
    result = update_agent_text("", {"log_group": 'we"ird\\path', "flag": True}, "f.toml")
    assert tomllib.loads(result)["agent"] == {"log_group": 'we"ird\\path', "flag": True}


def test_invalid_toml_is_named() -> None:
    with pytest.raises(ProjectFileError, match="f.toml: not valid TOML"):
        update_agent_text("[agent\n", VALUES, "f.toml")


def test_agent_that_is_not_a_table_is_refused() -> None:
    with pytest.raises(ProjectFileError, match=r"f.toml: agent: expected a \[agent\] table"):
        update_agent_text('agent = "x"\n', VALUES, "f.toml")
