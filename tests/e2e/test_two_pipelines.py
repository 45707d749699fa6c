"""Two repositories pushed at the same moment: each pipeline is built and deployed to its own
service, and the one builder stops once both are done."""

import pytest

from localrig import stories
from tests.e2e.conftest import OTHER, SAMPLE

pytestmark = pytest.mark.e2e


def test_two_pipelines_pushed_at_once_are_both_deployed(two_pipeline_rig):
    rig = two_pipeline_rig

    report = stories.two_pipelines_at_once(rig, [SAMPLE, OTHER])

    assert sorted(b["pipeline"] for b in report.builds) == [OTHER.key, SAMPLE.key]
    assert {b["outcome"] for b in report.builds} == {"succeeded"}
    for spec in (SAMPLE, OTHER):
        assert report.revision_after[spec.key] == report.revision_before[spec.key] + 1
        assert rig.service_image(spec).startswith(f"{rig.registry.address}/{spec.image_repository}:")
    assert report.builder_state == "stopped"
    assert len(report.notifications) == 2
    assert report.passed, report.checks
