"""A FIFO round asks SQS for at most FIFO_RECEIVE (5) messages, not 10: each message of another group that a round
receives is released, and the release counts as a receive. In a pool a waiting message is received by about as
many rounds as one receive holds before its group comes first, so a receive of 10 took the messages of a release
of twenty pipelines to the template's maxReceiveCount of 10, where the keep rule makes one builder build two
pipelines in a row while the others go idle (benchmarks/fifo_release_churn.py, docs/builder-pool.md)."""

from __future__ import annotations

from agent.queue.build_queue import FIFO_RECEIVE
from agent.runner import Runner
from tests.agent.agentrig import BRANCH, agent_context, make_repo, make_world, pipeline_block, write_config

GROUPS = 8


def test_a_round_receives_five_messages_so_only_four_other_groups_pay_a_receive(aws, tmp_path):
    world = make_world(aws, "127.0.0.1:5000", fifo=True)
    sqs = world.client("sqs")
    repo = make_repo(tmp_path)
    names = [f"p{n}" for n in range(GROUPS)]
    extra = "".join(pipeline_block(world, name, tmp_path / "missing.git") for name in names)
    config = write_config(tmp_path / "agent.toml", world, repo, tmp_path / "cache", extra_pipelines=extra)
    for name in names:
        world.send(repository=name)
    lines: list[str] = []
    runner = Runner(agent_context(config, lines))

    work, _ = runner._drain(0)  # one round's receive, nothing built: that receive is what this test looks at

    assert FIFO_RECEIVE == 5
    assert work.order == [f"p0/{BRANCH}"]
    assert any("released 4 message(s) of group(s) p1/" in line for line in lines), lines
    counts = [int(m["Attributes"]["ApproximateReceiveCount"]) for m in sqs.receive_message(
        QueueUrl=world.queue_url, MaxNumberOfMessages=10, AttributeNames=["ApproximateReceiveCount"])["Messages"]]
    assert sorted(counts) == [1, 1, 1, 2, 2, 2, 2]  # p1..p4 received twice (once by the round), p5..p7 once
