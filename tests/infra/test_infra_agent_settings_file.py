"""The [agent] table is rewritten; everything else in the operator's settings file is kept."""

from __future__ import annotations

import tomllib

import pytest

from infra import ProjectFileError
from infra.agent_settings import emit_agent_table, update_agent_text

VALUES = {"region": "us-east-1", "queue_url": "https://sqs/q", "close_topic_arn": "arn:aws:sns:us-east-1:1:c",
          "log_group": "/pushdeploy/builds", "visibility_timeout_seconds": 900}


def test_keys_the_operator_set_in_agent_are_kept_and_stack_values_win() -> None:
    text = ('[agent]\nregion = "eu-west-1"\nidle_grace_seconds = 120  # longer\n\n'
            '# first\n[[pipelines]]\nrepository = "a"\n')
    result = update_agent_text(text, VALUES, "f.toml")
    data = tomllib.loads(result)
    assert data["agent"] == {**VALUES, "idle_grace_seconds": 120}
    assert result.endswith('\n# first\n[[pipelines]]\nrepository = "a"\n')


def test_strings_are_escaped() -> None:
    table = emit_agent_table({"log_group": 'we"ird\\path', "flag": True})
    assert tomllib.loads(table)["agent"] == {"log_group": 'we"ird\\path', "flag": True}


def test_invalid_toml_is_named() -> None:
    with pytest.raises(ProjectFileError, match="f.toml: not valid TOML"):
        update_agent_text("[agent\n", VALUES, "f.toml")


def test_a_subtable_under_agent_is_refused_not_flattened() -> None:
    text = '[agent]\nregion = "x"\n[agent.extra]\nx = 1\n'
    with pytest.raises(ProjectFileError, match=r"\[agent\]: cannot write a dict value"):
        update_agent_text(text, VALUES, "f.toml")
