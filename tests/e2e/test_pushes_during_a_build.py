"""Three pushes land while a build runs: exactly one more build follows, of the last commit
(requests are coalesced per pipeline, never dropped, never duplicated)."""

import pytest

from localrig import stories
from tests.e2e.conftest import SAMPLE

pytestmark = pytest.mark.e2e


def test_three_pushes_during_a_build_make_exactly_one_more_build_of_the_last_commit(rig):
    report = stories.pushes_during_a_build(rig, SAMPLE, k=3)

    first, *quick = report.pushes
    assert len(quick) == 3
    assert [b["commit"] for b in report.builds] == [first, quick[-1]]
    assert [b["outcome"] for b in report.builds] == ["succeeded", "succeeded"]
    assert report.revision_after[SAMPLE.key] == report.revision_before[SAMPLE.key] + 2
    assert rig.service_image(SAMPLE).endswith(report.builds[-1]["image"])
    assert report.builder_state == "stopped"
    assert len(report.notifications) == 2
    assert report.passed, report.checks
