"""A commit that does not change the image (here: an empty commit) is built, found identical to
what runs, and reported ``skipped``: nothing pushed, nothing deployed."""

import pytest

from localrig import stories
from tests.e2e.conftest import SAMPLE

pytestmark = pytest.mark.e2e


def test_an_unchanged_commit_is_skipped(rig):
    stories.one_push(rig, SAMPLE)

    report = stories.unchanged_commit(rig, SAMPLE)

    assert [b["outcome"] for b in report.builds] == ["skipped"]
    assert report.builds[0]["commit"] == report.pushes[0]
    assert report.new_tags == []
    assert report.revision_after == report.revision_before
    assert report.builder_state == "stopped"
    assert report.passed, report.checks
