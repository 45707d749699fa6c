"""An agent that dies of an error says so on its way out: its EndOfRun carries ``agent_exited``, so
close stops the builder even while requests wait (the unit does not restart the agent, so nothing
else would serve them; the reconcile starts the builder again for them). An idle agent that keeps
serving never says it."""

from __future__ import annotations

import threading

import pytest

from agent.queue.build_queue import QueueError
from agent.retry import Backoff
from agent.runner import Runner
from chalicelib.contracts import EndOfRun
from localrig.services import wait_until
from tests.agent.agentrig import agent_context, make_repo, make_world, write_config


@pytest.fixture
def world_config(aws, tmp_path):
    repo = make_repo(tmp_path)
    world = make_world(aws, "127.0.0.1:5000")
    return world, write_config(tmp_path / "agent.toml", world, repo, tmp_path / "cache")


def test_a_run_that_fails_after_asking_to_stop_asks_again_saying_it_exited(world_config):
    world, config = world_config
    lines: list[str] = []
    runner = Runner(agent_context(config, lines), max_poll_seconds=1, backoff=Backoff(budget=0))
    failures: list[BaseException] = []

    def serve() -> None:
        try:
            runner.run()
        except QueueError as exc:
            failures.append(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    seen: list = []
    wait_until(lambda: bool(seen.extend(world.close_messages()) or seen), 60, "the idle EndOfRun")
    assert [(type(m).__name__, m.agent_exited) for m in seen] == [("EndOfRun", False)]  # still serving

    world.client("sqs").delete_queue(QueueUrl=world.queue_url)  # the next poll fails: the agent dies
    thread.join(timeout=60)

    assert not thread.is_alive() and len(failures) == 1
    (last,) = world.close_messages()
    assert isinstance(last, EndOfRun) and last.agent_exited is True
    assert last.reason.startswith("agent stopped by an error: QueueError")
    assert last.builder_instance_id == "i-0123456789abcdef0"
    assert any("the agent exits, so the builder is stopped whatever is queued" in line for line in lines)
