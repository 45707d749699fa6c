"""After EndOfRun the machine may stop at any moment, and a long poll cut off by the stop still completes
at SQS: a push arriving meanwhile would be handed to the dead connection and hidden for the visibility
timeout. So once the agent has asked to be stopped it short-polls (nothing waits at SQS's side), a second
apart."""

from __future__ import annotations

import threading

from agent.runner import POLL_AFTER_END_OF_RUN_SECONDS, Runner
from localrig.services import wait_until
from tests.agent.agentrig import agent_context, make_repo, make_world, write_config


def test_once_it_asked_to_be_stopped_the_agent_only_short_polls_a_second_apart(aws, tmp_path):
    world = make_world(aws, "127.0.0.1:5000")
    config = write_config(tmp_path / "agent.toml", world, make_repo(tmp_path), tmp_path / "cache")
    ctx = agent_context(config)
    waits: list[tuple[int, int]] = []  # (EndOfRun messages seen so far, WaitTimeSeconds of the receive)
    seen: list = []

    def record(params, **_kwargs):
        seen.extend(world.close_messages())
        waits.append((len(seen), params["WaitTimeSeconds"]))

    ctx.clients.sqs.meta.events.register("provide-client-params.sqs.ReceiveMessage", record)
    stop = threading.Event()
    thread = threading.Thread(target=Runner(ctx, stop=stop).run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: sum(1 for ended, _ in waits if ended) >= 3, 60, "three receives after the EndOfRun")
    finally:
        stop.set()
        thread.join(timeout=60)

    after = [wait for ended, wait in waits if ended]
    assert after and max(after) == 0
    assert POLL_AFTER_END_OF_RUN_SECONDS == 1
