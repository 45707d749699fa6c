"""A manual redeploy through the pipeline API that `chalice local --stage local` serves: after a push has
deployed the branch head, ``POST /pipelines/{id}/builds`` with ``force`` deploys it again as a new revision."""

from __future__ import annotations

import pytest

from localrig import stories
from localrig.demo import HOSTED
from localrig.rig import LocalRig

pytestmark = pytest.mark.e2e


def test_a_forced_build_of_the_deployed_head_ends_on_a_new_revision(tmp_path, docker_engine, base_image):
    rig = LocalRig(tmp_path / "rig", [HOSTED], engine=docker_engine).start()
    try:
        stories.webhook_push(rig, HOSTED, "github")  # the head deployed once (story 4 checks that on its own)
        report = stories.manual_redeploy(rig, HOSTED)
    finally:
        rig.stop()
    assert [f"{c.expectation} (observed: {c.observed})" for c in report.checks if not c.ok] == []
