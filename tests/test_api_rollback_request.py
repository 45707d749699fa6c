"""POST /pipelines/{pipeline}/rollback publishes a rollback request: to the previous revision, or to the
one named; a malformed target is refused with the field named, a pipeline without deploy targets with
409, and nothing is published for either."""

from __future__ import annotations

import pytest

from tests.api_rig import make_api_rig, post
from tests.lambda_app import chalice_client, import_app

ARN = "arn:aws:ecs:us-east-1:123456789012:task-definition/production-task:3"


@pytest.fixture
def api(aws, monkeypatch, tmp_path):
    rig = make_api_rig(aws)
    with chalice_client(import_app(monkeypatch, rig.env()), tmp_path) as client:
        yield rig, client


@pytest.mark.parametrize("body, to", [(None, None), ({"to": "production-task:3"}, "production-task:3"),
                                      ({"to": ARN}, ARN)])
def test_a_rollback_request_names_its_target_or_none_for_the_previous(api, body, to):
    rig, client = api

    status, answer = post(client, "/pipelines/sample%2Fproduction/rollback", body)

    [request] = rig.requests()
    assert status == 202
    assert (answer["action"], answer["rollback_to"], answer["event_id"]) == ("rollback", to, request.event_id)
    assert (request.pipeline, request.action, request.rollback_to) == ("sample/production", "rollback", to)
    assert (request.commit, request.trigger, request.source, request.pushed_by) == (
        None, "manual", "api", "local (no auth)")


@pytest.mark.parametrize("raw, field", [(b'{"to": "production-task"}', "to"), (b'{"to": 3}', "to"),
                                        (b'{"to": "arn:aws:ecs:us-east-1:1:service/c/web"}', "to"),
                                        (b'{"commit": "0123456789abcdef0123456789abcdef01234567"}', "commit")])
def test_a_malformed_target_is_400_naming_the_field(api, raw, field):
    rig, client = api

    status, answer = post(client, "/pipelines/sample%2Fproduction/rollback", raw=raw)

    assert (status, answer["field"]) == (400, field)
    assert rig.requests() == []


def test_a_pipeline_without_deploy_targets_has_nothing_to_roll_back(api):
    rig, client = api

    status, answer = post(client, "/pipelines/octo%2Fapp%2Frelease%2F1.0/rollback")

    assert status == 409 and "no deploy targets" in answer["error"]
    assert rig.requests() == []


def test_an_unknown_pipeline_is_404(api):
    rig, client = api

    status, _ = post(client, "/pipelines/nope%2Fmain/rollback")

    assert status == 404
    assert rig.requests() == []
