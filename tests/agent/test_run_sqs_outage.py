"""SQS has bad minutes. A receive that fails is retried with backoff (1 s doubling to 60 s) and the
run goes on when the queue answers again; only an outage that outlasts the budget ends the run,
with the EndOfRun that says the agent exited and why. Sleeps and the clock are injected: no test waits."""

from __future__ import annotations

import pytest

from agent.queue.build_queue import QueueError
from agent.retry import Backoff
from agent.runner import Runner
from chalicelib.contracts import EndOfRun
from tests.agent.agentrig import agent_context, make_repo, make_world, write_config


@pytest.fixture
def world_config(aws, tmp_path):
    repo = make_repo(tmp_path)
    world = make_world(aws, "127.0.0.1:5000")
    return world, write_config(tmp_path / "agent.toml", world, repo, tmp_path / "cache")


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_a_queue_that_fails_for_a_while_does_not_stop_the_run(world_config):
    world, config = world_config
    sqs = world.client("sqs")
    attributes = sqs.get_queue_attributes(QueueUrl=world.queue_url, AttributeNames=["All"])["Attributes"]
    sqs.delete_queue(QueueUrl=world.queue_url)
    fake = FakeTime()

    def sleep(seconds: float) -> None:
        fake.sleep(seconds)
        if len(fake.slept) == 3:  # the outage ends during the third wait
            sqs.create_queue(QueueName="pushdeploy-build", Attributes={
                k: attributes[k] for k in ("VisibilityTimeout", "RedrivePolicy")})

    lines: list[str] = []
    runner = Runner(agent_context(config, lines), backoff=Backoff(sleep=sleep, clock=fake.clock))

    stats = runner.run(exit_when_idle=True)

    assert fake.slept == [1, 2, 4]
    assert stats.end_of_runs == 1 and not stats.exit_reported
    (end,) = world.close_messages()
    assert isinstance(end, EndOfRun) and end.agent_exited is False
    assert sum("queue receive: attempt" in line for line in lines) == 3


def test_an_outage_longer_than_the_budget_ends_the_run_with_its_reason(world_config):
    world, config = world_config
    world.client("sqs").delete_queue(QueueUrl=world.queue_url)
    fake = FakeTime()
    lines: list[str] = []
    runner = Runner(agent_context(config, lines), backoff=Backoff(budget=300, sleep=fake.sleep, clock=fake.clock))

    with pytest.raises(QueueError):
        runner.run(exit_when_idle=True)

    receive_waits = fake.slept[:10]
    assert receive_waits == [1, 2, 4, 8, 16, 32, 60, 60, 60, 57]  # doubling, capped, the budget used up exactly
    assert runner.stats.exit_reported
    (end,) = world.close_messages()
    assert end.agent_exited is True and end.reason.startswith("agent stopped by an error: QueueError")
    assert any("queue receive: giving up after 11 attempts in 300s" in line for line in lines)
