"""A push to a branch no pipeline serves starts nothing: the request function filters it out,
no build request is published, and the builder stays stopped."""

import pytest

from tests.e2e.conftest import SAMPLE

pytestmark = pytest.mark.e2e


def test_a_push_to_an_unserved_branch_builds_nothing(rig):
    sha = rig.commit(SAMPLE.repository, "work in progress", {"www/index.html": "<p>wip</p>\n"})

    rig.push(SAMPLE.repository, branch="feature/wip")
    rig.wait(lambda: any(e.stage == "lambda:request" and e.text.startswith("returned") for e in list(rig.events)),
             60, "the request function to finish")
    rig.wait(rig.lambda_idle, 60, "every invocation to finish")

    stages = {e.stage for e in rig.events}
    assert "lambda:build_start" not in stages
    assert rig.queue_depth() == 0
    assert rig.builder_state() == "stopped"
    assert rig.build_results() == []
    assert sha[:12] in " ".join(e.text for e in rig.events if e.stage == "codecommit")
