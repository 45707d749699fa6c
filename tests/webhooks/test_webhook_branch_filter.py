"""BRANCH_FILTER decides which pushed branches build, as for CodeCommit pushes: a push it does not match gets
202 "not built", records no delivery and publishes nothing."""

from __future__ import annotations

import json

from tests.lambda_app import chalice_client, import_app


def _client(webhook_rig, monkeypatch, tmp_path, patterns: dict):
    module = import_app(monkeypatch, webhook_rig.env(BRANCH_FILTER=json.dumps(patterns)))
    return chalice_client(module, tmp_path)


def test_a_push_to_a_branch_the_filter_does_not_name_is_not_built(webhook_rig, monkeypatch, tmp_path):
    with _client(webhook_rig, monkeypatch, tmp_path, {"Codertocat/Hello-World": ["production"]}) as client:
        status, answer = webhook_rig.send_sample(client, "github_push")
    assert (status, answer["result"]) == (202, "not built")
    assert answer["reason"] == "Codertocat/Hello-World/main: does not match BRANCH_FILTER, not built"
    assert webhook_rig.published() == [] and webhook_rig.deliveries() == []


def test_the_filter_is_applied_per_branch_of_a_bitbucket_push(webhook_rig, monkeypatch, tmp_path):
    with _client(webhook_rig, monkeypatch, tmp_path, {"*": ["release/*"]}) as client:
        status, answer = webhook_rig.send_sample(client, "bitbucket_push")
    assert (status, answer["requests"]) == (200, [
        "team_name/repo_name/release/2.0@3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e"])
    assert "team_name/repo_name/main: does not match BRANCH_FILTER, not built" in answer["not_built"]
    assert [r.branch for r in webhook_rig.published()] == ["release/2.0"]


def test_the_filter_names_hosted_repositories_by_their_full_path(webhook_rig, monkeypatch, tmp_path):
    with _client(webhook_rig, monkeypatch, tmp_path, {"diaspora": ["*"], "mike/diaspora": ["mast*"]}) as client:
        assert webhook_rig.send_sample(client, "gitlab_push")[0] == 200
    assert [r.pipeline for r in webhook_rig.published()] == ["mike/diaspora/master"]
