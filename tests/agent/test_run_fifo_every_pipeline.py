"""A request for every pipeline (the seed's plain ``build``, group ``pushdeploy-every-pipeline``) is not built
from a FIFO queue: its group lock covers no pipeline's own group, so building them all could overlap another
builder's build of one of them. It goes to the (FIFO) dead-letter queue at once with a reason saying what to
send instead, and the reconcile announces it; the pipelines' own requests are served as usual."""

from __future__ import annotations

from agent.queue.build_queue import EVERY_PIPELINE_ON_FIFO
from agent.runner import Runner
from chalicelib.contracts import BuildResult
from tests.agent.agentrig import agent_context, make_repo, make_world, write_config


def test_a_request_for_every_pipeline_is_dead_lettered_with_its_reason_and_builds_nothing(aws, tmp_path):
    world = make_world(aws, "127.0.0.1:5000", fifo=True)
    repo = make_repo(tmp_path)
    config = write_config(tmp_path / "agent.toml", world, repo, tmp_path / "cache")
    world.send(body="build")

    stats = Runner(agent_context(config)).run(exit_when_idle=True)

    assert stats.builds == 0 and stats.dead_lettered == 1
    assert not [m for m in world.close_messages() if isinstance(m, BuildResult)]
    assert world.dead_letters() == [("build", EVERY_PIPELINE_ON_FIFO)]
    assert world.queue_depth() == 0
