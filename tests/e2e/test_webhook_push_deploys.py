"""Story 4 for each provider: a push to the hosted repository sends the provider's own push webhook to a real
`chalice local --stage local`, the builder fetches over authenticated smart HTTP with a token from SSM, and the
service is deployed."""

from __future__ import annotations

import pytest

from localrig import stories
from localrig.demo import HOSTED
from localrig.rig import LocalRig

pytestmark = pytest.mark.e2e


@pytest.fixture
def hosted_rig(tmp_path, docker_engine, base_image):
    rig = LocalRig(tmp_path / "rig", [HOSTED], engine=docker_engine).start()
    try:
        yield rig
    finally:
        rig.stop()


def failures(report: stories.StoryReport) -> list[str]:
    return [f"{c.expectation} (observed: {c.observed})" for c in report.checks if not c.ok]


@pytest.mark.parametrize("provider", ["github", "gitlab", "bitbucket"])
def test_a_push_to_the_hosted_repository_ends_deployed_through_chalice_local(hosted_rig, provider):
    report = stories.webhook_push(hosted_rig, HOSTED, provider)
    assert failures(report) == []
