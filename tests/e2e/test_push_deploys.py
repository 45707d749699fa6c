"""A developer pushes one commit: the image is pushed, the service gets a new revision running
it, the builder is stopped again, and Slack says it succeeded, naming the commit."""

import os

import pytest

from localrig import stories
from tests.e2e.conftest import SAMPLE

pytestmark = pytest.mark.e2e


def test_one_push_is_built_deployed_and_announced(rig):
    report = stories.one_push(rig, SAMPLE)

    [build] = report.builds
    assert build["outcome"] == "succeeded"
    assert build["commit"] == report.pushes[0]
    assert any(tag.endswith(report.pushes[0][:7]) for tag in report.new_tags)
    assert report.revision_after[SAMPLE.key] == report.revision_before[SAMPLE.key] + 1
    assert rig.service_image(SAMPLE).endswith(build["image"])
    assert report.builder_state == "stopped"
    [message] = report.notifications
    assert report.pushes[0][:7] in message
    assert report.passed, report.checks


def test_the_builder_process_is_gone_once_the_instance_is_stopped(rig):
    stories.one_push(rig, SAMPLE)

    assert rig.builder.current() is None
    assert all(boot.ended_by for boot in rig.builder.boots)
    for boot in rig.builder.boots:
        assert boot.popen.poll() is not None
        with pytest.raises(ProcessLookupError):
            os.killpg(boot.popen.pid, 0)  # nothing of its process group (docker, git children) is left either
    assert rig.end_of_runs(), "the agent asked to be stopped"
