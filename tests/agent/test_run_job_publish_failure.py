"""Each job of a round answers only its own requests: when a pipeline's build result is published and its
rollback result is not, the build request is deleted and the rollback request stays queued for redelivery."""

from __future__ import annotations

from agent.runner import Runner
from chalicelib.contracts import BuildResult, EndOfRun
from tests.agent.agentrig import agent_context, api_request, make_repo, make_world, write_config


def test_a_rollback_whose_result_is_lost_stays_queued_after_the_published_build(aws, tmp_path):
    repo = make_repo(tmp_path)
    world = make_world(aws, "127.0.0.1:5000")
    config = write_config(tmp_path / "agent.toml", world, repo, tmp_path / "cache", visibility=300)
    config.write_text(config.read_text().replace(str(repo.bare), str(tmp_path / "missing.git")))  # fails fast
    world.send_request(api_request())
    world.send_request(api_request("rollback"))
    sns = world.client("sns")
    results_arn = world.client("sqs").get_queue_attributes(
        QueueUrl=world.results_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    def close_topic_gone_for_the_rollback_only(line: str) -> None:
        if "rollback to the previous revision for 1 request(s)" in line:
            sns.delete_topic(TopicArn=world.close_topic_arn)
        elif "not published" in line:
            arn = sns.create_topic(Name="pushdeploy-close")["TopicArn"]
            sns.subscribe(TopicArn=arn, Protocol="sqs", Endpoint=results_arn, Attributes={"RawMessageDelivery": "true"})

    lines: list[str] = []
    ctx = agent_context(config, lines)
    ctx.progress.sinks.append(close_topic_gone_for_the_rollback_only)

    stats = Runner(ctx).run(exit_when_idle=True)

    assert stats.builds == 2
    assert any("result for sample/production not published, its 1 request(s) stay queued" in line for line in lines)
    build, end = world.close_messages()
    assert isinstance(build, BuildResult) and (build.action, build.outcome) == ("build", "failed")
    assert isinstance(end, EndOfRun)
    assert world.queue_depth() == 1  # the rollback request, hidden until its visibility timeout ends
