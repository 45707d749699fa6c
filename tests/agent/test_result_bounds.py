"""A build whose commits carry very long messages still reaches the team: the agent's publisher shrinks
the result under SNS's limit (real SNS, like moto, refuses a message over 256 KB) instead of failing."""

from __future__ import annotations

from agent.queue.results import Publisher
from chalicelib.contracts import BuildResult, CommitInfo
from tests.agent.agentrig import make_world


def test_a_result_with_huge_commit_messages_is_published_shrunk(aws):
    world = make_world(aws, "127.0.0.1:5000")
    commits = tuple(CommitInfo(f"{n:040x}", "Update vendored dependencies\n\n" + "- bump lib\n" * 2_000, "Dev One")
                    for n in range(50))
    result = BuildResult(pipeline="sample/production", repository="sample", branch="production", outcome="succeeded",
                         commit=commits[0].sha, started_at="2026-11-29T10:00:00Z", finished_at="2026-11-29T10:03:00Z",
                         commits=commits)
    assert len(result.to_json().encode()) > 262_144

    Publisher(world.client("sns"), world.close_topic_arn).publish(result)

    [received] = world.close_messages()
    assert isinstance(received, BuildResult)
    assert received.commit == result.commit and len(received.commits) >= 1
    assert received.commits[0].subject.startswith("Update vendored dependencies")
    assert received.commits[0].subject.endswith("more characters cut]")
