"""SQS delivers at least once: the same SNS message can come back in a later round or a later run.
A redelivery of a request already answered is deleted without a second build or a second message
to the team; a new push of the same commit (a new event) still builds."""

from __future__ import annotations

import json
import uuid

import pytest

from agent.queue.answered import DEFAULT_LIMIT, AnsweredRequests
from agent.queue.build_queue import QueuedRequest
from agent.runner import Runner
from chalicelib.contracts import BuildRequest, BuildResult, utc_now
from tests.agent.agentrig import BRANCH, REPOSITORY, agent_context, make_repo, make_world, write_config


@pytest.fixture
def setup(aws, tmp_path):
    """The source is missing, so each build fails at once with a result: no docker needed."""
    repo = make_repo(tmp_path)
    world = make_world(aws, "127.0.0.1:5000")
    config = write_config(tmp_path / "agent.toml", world, repo, tmp_path / "cache")
    config.write_text(config.read_text().replace(str(repo.bare), str(tmp_path / "missing.git")))
    return world, config


def delivery(commit: str, event_id: str) -> str:
    request = BuildRequest(REPOSITORY, BRANCH, commit, "codecommit-trigger", event_id, utc_now())
    return json.dumps({"Type": "Notification", "MessageId": event_id, "Message": request.to_json(),
                       "TopicArn": "arn:aws:sns:us-east-1:123456789012:request"})


def results(world) -> list[BuildResult]:
    return [m for m in world.close_messages() if isinstance(m, BuildResult)]


def test_a_redelivered_request_is_deleted_without_building_again_even_in_a_later_run(setup):
    world, config = setup
    body = delivery("a" * 40, str(uuid.uuid4()))
    world.send(body=body)
    first = Runner(agent_context(config)).run(exit_when_idle=True)
    assert first.builds == 1 and len(results(world)) == 1

    world.send(body=body)  # SQS hands the same message out again, to the next boot
    lines: list[str] = []
    second = Runner(agent_context(config, lines)).run(exit_when_idle=True)

    assert (second.builds, second.duplicates) == (0, 1)
    assert results(world) == []
    assert world.queue_depth() == 0
    (line,) = [line for line in lines if "was already answered by" in line]
    assert json.loads(json.loads(body)["Message"])["event_id"] in line
    assert "the failed build of sample/production" in line


def test_a_new_push_of_the_same_commit_builds_again(setup):
    world, config = setup
    world.send(body=delivery("b" * 40, str(uuid.uuid4())))
    Runner(agent_context(config)).run(exit_when_idle=True)

    world.send(body=delivery("b" * 40, str(uuid.uuid4())))
    stats = Runner(agent_context(config)).run(exit_when_idle=True)

    assert (stats.builds, stats.duplicates) == (1, 0)
    assert len(results(world)) == 2


def test_the_record_stays_small(tmp_path):
    answered = AnsweredRequests(tmp_path, print, limit=3)
    items = []
    for n in range(5):
        request = BuildRequest(REPOSITORY, BRANCH, None, "codecommit-trigger", f"event-{n}", utc_now())
        items.append(QueuedRequest(f"m{n}", "r", request))
        answered.record([items[-1]], "sample/production", f"build {n}")

    reread = AnsweredRequests(tmp_path, print, limit=3)
    assert [reread.answered_by(item, ["sample/production"]) for item in items] == [
        None, None, "build 2", "build 3", "build 4"]
    assert DEFAULT_LIMIT >= 100
