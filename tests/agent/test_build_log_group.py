"""The build log's group is the stack's: the agent asks CloudWatch to create it only when the stream's call says
it is missing (a hand-made install), never at every build, since the builder's role is not granted
logs:CreateLogGroup and AWS would refuse each of those calls."""

from __future__ import annotations

import pytest

from agent.buildlog import BuildLog

GROUP = "/pushdeploy/builds"


@pytest.fixture
def logs(aws):
    client = aws.client("logs")
    calls: list[str] = []
    client.meta.events.register("before-call.logs.*", lambda model, **_: calls.append(model.name))
    return client, calls


def test_an_existing_group_is_never_created_again(logs):
    client, calls = logs
    client.create_log_group(logGroupName=GROUP)  # what infra/pipeline.yaml's BuildLogGroup does
    calls.clear()
    for build in ("sample/production/1", "sample/production/2"):
        BuildLog(client, GROUP, warn=pytest.fail).open(build)

    assert "CreateLogGroup" not in calls
    streams = client.describe_log_streams(logGroupName=GROUP)["logStreams"]
    assert sorted(s["logStreamName"] for s in streams) == ["sample/production/1", "sample/production/2"]


def test_a_missing_group_is_created_and_the_log_still_opens(logs):
    client, calls = logs
    log = BuildLog(client, GROUP, warn=pytest.fail)

    assert log.open("sample/production/1") is not None
    log.write("hello")
    log.flush()

    assert calls[:3] == ["CreateLogStream", "CreateLogGroup", "CreateLogStream"]
    events = client.get_log_events(logGroupName=GROUP, logStreamName="sample/production/1")["events"]
    assert [e["message"] for e in events] == ["hello"]
