"""A commit whose build fails: Slack gets a failure naming the commit and the reason, the
service stays on the revision it ran, nothing is pushed, and the builder is stopped."""

import pytest

from localrig import stories
from tests.e2e.conftest import SAMPLE

pytestmark = pytest.mark.e2e


def test_a_failed_build_is_reported_and_changes_nothing(rig):
    deployed = stories.one_push(rig, SAMPLE)
    image_before = rig.service_image(SAMPLE)

    report = stories.failing_build(rig, SAMPLE)

    [build] = report.builds
    assert build["outcome"] == "failed"
    said = stories.FAIL_MESSAGE.format(reason=stories.FAIL_REASON)
    assert build["error"].split(": ", 1)[1].startswith(said + " | The command ")  # after "build <image>: "
    assert stories.FAILING_STEP in build["error"]
    [message] = report.notifications
    assert report.pushes[0][:7] in message and said in message and stories.FAILING_STEP in message
    assert report.revision_after == deployed.revision_after
    assert rig.service_image(SAMPLE) == image_before
    assert report.new_tags == []
    assert report.builder_state == "stopped"
    assert report.passed, report.checks
