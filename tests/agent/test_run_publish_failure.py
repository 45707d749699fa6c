"""A result the close topic does not take answers nothing: every request that asked for that build
stays in the queue, even a legacy ``build`` that the other pipelines' published results answer."""

from __future__ import annotations

import pytest

from agent.queue.results import PublishError
from agent.retry import Backoff
from agent.runner import Runner
from chalicelib.contracts import BuildResult, EndOfRun
from tests.agent.agentrig import BRANCH, REPOSITORY, agent_context, make_repo, make_world, write_config

STAGING = f"""
[[pipelines]]
repository = "{REPOSITORY}"
branch = "staging"
source_url = "SOURCE"
image_repository = "staging/sample"
"""


@pytest.fixture
def setup(aws, tmp_path):
    """Two pipelines whose sources are missing: each build fails at once with a result, no docker needed."""
    repo = make_repo(tmp_path)
    world = make_world(aws, "127.0.0.1:5000")
    config = write_config(tmp_path / "agent.toml", world, repo, tmp_path / "cache", visibility=300,
                          extra_pipelines=STAGING)
    config.write_text(config.read_text().replace(str(repo.bare), str(tmp_path / "missing.git"))
                      .replace("SOURCE", str(tmp_path / "missing.git")))
    return world, config


def test_a_legacy_build_stays_queued_when_one_of_its_results_is_not_published(setup):
    world, config = setup
    world.send(body="build")
    sns = world.client("sns")
    results_arn = world.client("sqs").get_queue_attributes(
        QueueUrl=world.results_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def close_topic_gone_for_production_only(line: str) -> None:
        if f"build {REPOSITORY}/{BRANCH} started" in line:
            sns.delete_topic(TopicArn=world.close_topic_arn)
        elif f"build {REPOSITORY}/staging started" in line:
            arn = sns.create_topic(Name="pushdeploy-close")["TopicArn"]
            sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=results_arn, Attributes={"RawMessageDelivery": "true"})

    lines: list[str] = []
    ctx = agent_context(config, lines)
    ctx.progress.sinks.append(close_topic_gone_for_production_only)

    stats = Runner(ctx).run(exit_when_idle=True)

    assert stats.builds == 2
    assert any(f"result for {REPOSITORY}/{BRANCH} not published, its 1 request(s) stay queued" in line
               for line in lines)
    result, end = world.close_messages()
    assert isinstance(result, BuildResult) and result.pipeline == f"{REPOSITORY}/staging"
    assert isinstance(end, EndOfRun)
    assert world.queue_depth() == 1  # the legacy request: in flight now, back when its visibility timeout ends


def test_a_single_pipeline_request_stays_queued_when_its_result_is_not_published(setup):
    world, config = setup
    world.send()  # asks for sample/production only
    sns = world.client("sns")

    def close_topic_gone_during_the_build(line: str) -> None:
        if f"build {REPOSITORY}/{BRANCH} started" in line:
            sns.delete_topic(TopicArn=world.close_topic_arn)

    lines: list[str] = []
    ctx = agent_context(config, lines)
    ctx.progress.sinks.append(close_topic_gone_during_the_build)

    with pytest.raises(PublishError):  # the idle EndOfRun cannot go out either: the run ends saying so
        Runner(ctx, backoff=Backoff(budget=0)).run(exit_when_idle=True)

    assert any(f"result for {REPOSITORY}/{BRANCH} not published, its 1 request(s) stay queued" in line
               for line in lines)
    assert world.queue_depth() == 1  # in flight now, back when its visibility timeout ends
