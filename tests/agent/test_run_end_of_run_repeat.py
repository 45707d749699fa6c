"""In a pool, close leaves a builder running when it says EndOfRun while another builder still holds
messages (they may come back to it). Once those are done nothing else would ask for this builder's stop, so
the agent repeats EndOfRun after each further grace period in which it received nothing."""

from __future__ import annotations

import threading
from itertools import pairwise

from agent.runner import Runner
from chalicelib.contracts import EndOfRun, parse_timestamp
from localrig.services import wait_until
from tests.agent.agentrig import agent_context, make_repo, make_world, write_config

GRACE = 1


def test_with_nothing_received_the_agent_says_end_of_run_again_after_each_grace_period(aws, tmp_path):
    world = make_world(aws, "127.0.0.1:5000", fifo=True)
    config = write_config(tmp_path / "agent.toml", world, make_repo(tmp_path), tmp_path / "cache", grace=GRACE)
    world.send(repository="served-elsewhere")
    sqs = world.client("sqs")
    held = sqs.receive_message(QueueUrl=world.queue_url, VisibilityTimeout=600)["Messages"]  # another builder's
    assert len(held) == 1
    stop = threading.Event()
    runner = Runner(agent_context(config), max_poll_seconds=1, stop=stop)
    thread = threading.Thread(target=runner.run, daemon=True)
    seen: list = []
    thread.start()
    try:
        wait_until(lambda: bool(seen.extend(world.close_messages()) or len(seen) >= 3), 60, "three EndOfRuns")
    finally:
        stop.set()
        thread.join(timeout=60)

    ends = [m for m in seen if isinstance(m, EndOfRun)]
    assert len(ends) == len(seen) >= 3
    assert [e.reason for e in ends[:3]] == [f"queue empty for {GRACE}s"] + \
        [f"nothing received for {GRACE}s since the last EndOfRun"] * 2
    assert not any(e.agent_exited for e in ends)
    sent = [parse_timestamp(e.sent_at) for e in ends[:3]]
    assert all((later - earlier).total_seconds() >= GRACE * 0.9 for earlier, later in pairwise(sent))
    assert world.queue_depth() == 1  # the other builder's message was never touched
