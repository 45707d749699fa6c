"""The forgotten builder: a request the agent cannot serve (a BRANCH_FILTER broader than its
pipelines, a stray SNS message) goes to the dead-letter queue at once with the agent's reason,
and once the queue is empty again the agent says so again, so close can stop the builder."""

from __future__ import annotations

import json
import threading

import pytest

from agent.runner import Runner
from chalicelib.contracts import EndOfRun
from localrig.services import wait_until
from tests.agent.agentrig import agent_context, make_repo, make_world, write_config

# Long enough that the second EndOfRun (the rejected request's round restarts the grace period) comes before the
# repeat an agent sends anyway one more grace period after its last EndOfRun.
GRACE = 3


@pytest.fixture
def world_config(aws, tmp_path):
    repo = make_repo(tmp_path)
    world = make_world(aws, "127.0.0.1:5000")
    return world, write_config(tmp_path / "agent.toml", world, repo, tmp_path / "cache", grace=GRACE)


def collect(world, seen: list, count: int, what: str) -> list:
    wait_until(lambda: bool(seen.extend(world.close_messages()) or len(seen) >= count), 60, what)
    return seen


def test_after_a_round_that_only_rejected_a_request_the_agent_asks_to_stop_again(world_config):
    world, config = world_config
    lines: list[str] = []
    stop = threading.Event()
    runner = Runner(agent_context(config, lines), max_poll_seconds=1, stop=stop)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        seen = collect(world, [], 1, "the first idle EndOfRun")
        world.send(repository="not-served-here")

        seen = collect(world, seen, 2, "a second EndOfRun after the rejected request")
    finally:
        stop.set()
        thread.join(timeout=60)

    assert [type(m).__name__ for m in seen] == ["EndOfRun", "EndOfRun"]
    assert all(isinstance(m, EndOfRun) and not m.agent_exited for m in seen)
    assert [m.reason for m in seen] == [f"queue empty for {GRACE}s"] * 2
    assert world.queue_depth() == 0
    ((body, reason),) = world.dead_letters()
    assert reason == "unknown pipeline 'not-served-here/production' (not in the settings file)"
    assert json.loads(json.loads(body)["Message"])["repository"] == "not-served-here"  # the body as delivered
    assert any("dead-letter queue from the build queue's RedrivePolicy" in line for line in lines)


def test_the_configured_dead_letter_queue_wins_over_the_redrive_policy(world_config):
    world, config = world_config
    other = world.client("sqs").create_queue(QueueName="operator-dlq")["QueueUrl"]
    config.write_text(config.read_text().replace("[agent]\n", f'[agent]\ndead_letter_queue_url = "{other}"\n'))
    world.send(body="{not json")

    stats = Runner(agent_context(config)).run(exit_when_idle=True)

    assert stats.dead_lettered == 1 and world.queue_depth() == 0
    assert world.dead_letters() == []
    (message,) = world.client("sqs").receive_message(QueueUrl=other, MessageAttributeNames=["All"])["Messages"]
    assert message["Body"] == "{not json"
    assert message["MessageAttributes"]["pushdeploy-reason"]["StringValue"].startswith("malformed request:")


def test_without_any_dead_letter_queue_a_rejected_request_is_left_for_the_queue_to_handle(world_config):
    world, config = world_config
    sqs = world.client("sqs")
    bare = sqs.create_queue(QueueName="no-redrive", Attributes={"VisibilityTimeout": "30"})["QueueUrl"]
    config.write_text(config.read_text().replace(world.queue_url, bare))
    world.queue_url = bare
    world.send(body="stray")
    lines: list[str] = []

    stats = Runner(agent_context(config, lines)).run(exit_when_idle=True)

    assert stats.dead_lettered == 0
    assert world.queue_depth() == 1
    assert any("no dead-letter queue known" in line for line in lines)
