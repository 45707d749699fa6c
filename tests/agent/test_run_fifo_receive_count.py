"""Releasing another group's messages costs each of them a receive, and SQS moves a message received
maxReceiveCount times to the dead-letter queue at its next receive. In a pool, messages waiting behind other
groups are received and released by every builder's round, so a push could reach the DLQ without ever being
built. A group with a message at that count is therefore kept, and served in the same round after the first."""

from __future__ import annotations

import json

from agent.runner import Runner
from chalicelib.contracts import BuildResult
from tests.agent.agentrig import BRANCH, agent_context, make_repo, make_world, pipeline_block, write_config

MAX_RECEIVES = 3


def test_a_group_whose_next_receive_would_dead_letter_it_is_served_not_released(aws, tmp_path):
    world = make_world(aws, "127.0.0.1:5000", fifo=True)
    sqs = world.client("sqs")
    dlq_arn = sqs.get_queue_attributes(QueueUrl=world.dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.set_queue_attributes(QueueUrl=world.queue_url, Attributes={"RedrivePolicy": json.dumps(
        {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)})})
    repo = make_repo(tmp_path)
    config = write_config(tmp_path / "agent.toml", world, repo, tmp_path / "cache",
                          extra_pipelines=pipeline_block(world, "other", tmp_path / "missing.git"))
    world.send()
    world.send(repository="other")
    for _ in range(MAX_RECEIVES - 1):  # other builders' rounds: received, then released (they served another group)
        taken = sqs.receive_message(QueueUrl=world.queue_url, MaxNumberOfMessages=10)["Messages"]
        assert len(taken) == 2
        sqs.change_message_visibility_batch(QueueUrl=world.queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for i, m in enumerate(taken)])
    lines: list[str] = []

    stats = Runner(agent_context(config, lines)).run(exit_when_idle=True)

    results = [m for m in world.close_messages() if isinstance(m, BuildResult)]
    assert sorted(r.pipeline for r in results) == [f"other/{BRANCH}", f"sample/{BRANCH}"]
    assert world.dead_letters() == []
    assert (stats.rounds, stats.builds) == (1, 2)
    assert any(f"also serving group(s) other/{BRANCH} in this round" in line for line in lines)
    assert world.queue_depth() == 0
