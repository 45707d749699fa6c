"""The settings file the rig writes for the agent is one the agent itself accepts."""

import tomllib
from pathlib import Path

from agent.config import parse_config
from localrig import agent_config
from localrig.provision import PipelineSpec

OUTPUTS = {"REGION": "us-east-1", "BUILD_QUEUE_URL": "http://127.0.0.1:1/123456789012/pushdeploy-build",
           "CLOSE_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:pushdeploy-close", "LOG_GROUP": "/pushdeploy/builds",
           "BUILDER_INSTANCE_ID": "i-0123456789abcdef0"}


def test_the_rig_settings_file_parses_with_the_agents_own_loader(tmp_path):
    specs = [PipelineSpec("sample"), PipelineSpec("other", image_repository="production/other", service="other")]
    sources = {"sample": tmp_path / "sample.git", "other": tmp_path / 'odd "name".git'}
    text = agent_config.render(OUTPUTS, specs, sources, "127.0.0.1:5000", Path("/cache"), idle_grace_seconds=2)

    config = parse_config(tomllib.loads(text), "agent.toml")

    assert config.agent.queue_url == OUTPUTS["BUILD_QUEUE_URL"]
    assert config.agent.instance_id == "i-0123456789abcdef0"
    assert config.agent.idle_grace_seconds == 2
    assert [p.id for p in config.pipelines] == ["sample/production", "other/production"]
    other = config.pipeline("other/production")
    assert other.source_url == str(sources["other"])
    assert other.registry == "127.0.0.1:5000"
    assert other.build_args == (("environment", "production"),)
    assert [(d.cluster, d.services) for d in other.deploy] == [("production-cluster", ("other",))]


def test_a_short_visibility_timeout_reaches_the_agent_and_none_keeps_its_default(tmp_path):
    specs, sources = [PipelineSpec("sample")], {"sample": tmp_path / "sample.git"}

    def parsed(**kwargs):
        text = agent_config.render(OUTPUTS, specs, sources, "127.0.0.1:5000", Path("/cache"), **kwargs)
        return parse_config(tomllib.loads(text), "agent.toml").agent.visibility_timeout_seconds

    assert parsed(visibility_timeout_seconds=3) == 3
    assert parsed() == 300


def test_the_dead_letter_queue_and_a_short_retry_budget_reach_the_agent(tmp_path):
    specs, sources = [PipelineSpec("sample")], {"sample": tmp_path / "sample.git"}
    dlq = "http://127.0.0.1:1/123456789012/pushdeploy-build-dlq"

    def parsed(outputs, **kwargs):
        text = agent_config.render(outputs, specs, sources, "127.0.0.1:5000", Path("/cache"), **kwargs)
        return parse_config(tomllib.loads(text), "agent.toml").agent

    with_dlq = parsed({**OUTPUTS, "BUILD_DLQ_URL": dlq}, retry_budget_seconds=2)
    assert (with_dlq.dead_letter_queue_url, with_dlq.retry_budget_seconds) == (dlq, 2)
    without = parsed(OUTPUTS)
    assert (without.dead_letter_queue_url, without.retry_budget_seconds) == ("", 300)


def test_the_history_table_reaches_the_agent_when_provisioned(tmp_path):
    specs, sources = [PipelineSpec("sample")], {"sample": tmp_path / "sample.git"}

    def parsed(outputs):
        text = agent_config.render(outputs, specs, sources, "127.0.0.1:5000", Path("/cache"))
        return parse_config(tomllib.loads(text), "agent.toml").agent.history_table

    assert parsed({**OUTPUTS, "BUILD_HISTORY_TABLE": "pushdeploy-build-history"}) == "pushdeploy-build-history"
    assert parsed(OUTPUTS) == ""
