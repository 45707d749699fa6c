"""On a FIFO build queue (a pool of builders) a round serves one message group, i.e. one pipeline: the
messages of the other groups that the same receive returned are released at once, so another builder can
build them now rather than after this round's visibility timeout, and this builder takes them in a later
round only if nobody else did."""

from __future__ import annotations

from agent.runner import Runner
from localrig.services import wait_until
from tests.agent.agentrig import BRANCH, REPOSITORY, agent_context, make_repo, make_world, pipeline_block, write_config

OTHER = "other"


def test_a_round_serves_the_first_group_and_releases_the_other_group_at_once(aws, tmp_path):
    world = make_world(aws, "127.0.0.1:5000", visibility=30, fifo=True)
    repo = make_repo(tmp_path)
    other = pipeline_block(world, OTHER, tmp_path / "missing.git")
    config = write_config(tmp_path / "agent.toml", world, repo, tmp_path / "cache", extra_pipelines=other)
    config.write_text(config.read_text().replace(f'source_url = "{repo.bare}"', f'source_url = "{tmp_path}/gone.git"'))
    world.send()
    world.send(repository=OTHER)
    world.send(repository=OTHER)
    world.send()
    lines: list[str] = []
    ctx = agent_context(config, lines)
    visible_during: list[int] = []

    def during_the_first_build(line: str) -> None:
        if f"build {REPOSITORY}/{BRANCH} started" in line and not visible_during:
            # well within the 30 s visibility timeout: released, not timed out
            wait_until(lambda: world.visible() == 2, 5, "the other group's two messages visible again")
            visible_during.append(world.visible())

    ctx.progress.sinks.append(during_the_first_build)
    stats = Runner(ctx).run(exit_when_idle=True)

    assert visible_during == [2]
    rounds = [line for line in lines if "round " in line and "message(s)" in line]
    assert f"round 1: 2 message(s) of group {REPOSITORY}/{BRANCH} -> pipelines {REPOSITORY}/{BRANCH}" in rounds[0]
    assert f"round 2: 2 message(s) of group {OTHER}/{BRANCH} -> pipelines {OTHER}/{BRANCH}" in rounds[1]
    assert any(f"released 2 message(s) of group(s) {OTHER}/{BRANCH}" in line for line in lines)
    results = [m for m in world.close_messages() if type(m).__name__ == "BuildResult"]
    assert [r.pipeline for r in results] == [f"{REPOSITORY}/{BRANCH}", f"{OTHER}/{BRANCH}"]
    assert stats.builds == 2
    assert world.queue_depth() == 0
