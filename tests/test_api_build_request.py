"""POST /pipelines/{pipeline}/builds publishes a manual build request the builder serves like a push:
the branch head, or exactly a named commit, forced when asked, naming who asked; bad input is refused
with the field named and nothing published."""

from __future__ import annotations

import pytest

from tests.api_rig import ALICE, gateway_event, invoke_gateway, make_api_rig, post
from tests.lambda_app import chalice_client, import_app

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def api(aws, monkeypatch, tmp_path):
    rig = make_api_rig(aws)
    with chalice_client(import_app(monkeypatch, rig.env()), tmp_path) as client:
        yield rig, client


def test_no_body_builds_the_branch_head(api):
    rig, client = api

    status, body = post(client, "/pipelines/sample%2Fproduction/builds")

    [request] = rig.requests()
    assert status == 202
    assert body["event_id"] == request.event_id and body["pipeline"] == "sample/production"
    assert (request.repository, request.branch, request.commit) == ("sample", "production", None)
    assert (request.action, request.source, request.trigger) == ("build", "api", "manual")
    assert (request.pin, request.force, request.pushed_by) == (False, False, "local (no auth)")


def test_a_commit_is_pinned_and_force_is_passed_on(api):
    rig, client = api

    status, body = post(client, "/pipelines/octo%2Fapp%2Frelease%2F1.0/builds",
                        {"commit": SHA.upper(), "force": True})

    [request] = rig.requests()
    assert status == 202 and body["commit"] == SHA
    assert (request.pipeline, request.commit, request.pin, request.force) == ("octo/app/release/1.0", SHA, True, True)


def test_the_caller_is_the_iam_principal_api_gateway_verified(aws, monkeypatch):
    rig = make_api_rig(aws)
    module = import_app(monkeypatch, rig.env(auth="iam"))
    event = gateway_event("POST", "/pipelines/{pipeline}/builds", "/pipelines/sample%2Fproduction/builds",
                          "sample%2Fproduction", {"force": True}, ALICE)

    status, body = invoke_gateway(module, event)

    [request] = rig.requests()
    assert (status, body["requested_by"]) == (202, ALICE)
    assert (request.pushed_by, request.force) == (ALICE, True)


def test_an_unknown_pipeline_is_404_and_publishes_nothing(api):
    rig, client = api

    status, body = post(client, "/pipelines/sample%2Fmain/builds")

    assert status == 404 and "unknown pipeline 'sample/main'" in body["error"]
    assert rig.requests() == []


@pytest.mark.parametrize("raw, field, words", [
    (b"{not json", "(body)", "expected a JSON object"),
    (b"[1, 2]", "(body)", "got list"),
    (b'{"commit": "abc123"}', "commit", "40-character"),
    (b'{"commit": 7}', "commit", "40-character"),
    (b'{"force": "yes"}', "force", "true or false"),
    (b'{"comit": "0123456789abcdef0123456789abcdef01234567"}', "comit", "unknown field"),
    (b"\xff\xfe", "(body)", "expected a JSON object"),
])
def test_bad_bodies_are_400_naming_the_field(api, raw, field, words):
    rig, client = api

    status, body = post(client, "/pipelines/sample%2Fproduction/builds", raw=raw)

    assert (status, body["field"]) == (400, field)
    assert words in body["error"]
    assert rig.requests() == []


def test_an_oversized_body_is_413(api):
    rig, client = api

    status, body = post(client, "/pipelines/sample%2Fproduction/builds", raw=b'{"commit": "' + b"a" * 20000 + b'"}')

    assert (status, body["field"]) == (413, "(body)")
    assert rig.requests() == []
