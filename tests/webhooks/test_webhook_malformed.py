"""A signed delivery the provider would never send (a missing header, a body that is not its JSON) gets 400
naming what is wrong, and publishes nothing."""

from __future__ import annotations

import pytest


def _malformed(rig, answer, reason: str) -> None:
    assert answer[0] == 400 and answer[1]["result"] == "malformed", answer
    assert reason in answer[1]["reason"], answer
    assert rig.published() == [] and rig.deliveries() == []


@pytest.mark.parametrize("name, header", [("github_push", "X-GitHub-Event"), ("github_push", "X-GitHub-Delivery"),
                                          ("gitlab_push", "X-Gitlab-Event"), ("bitbucket_push", "X-Event-Key"),
                                          ("bitbucket_push", "X-Request-UUID")])
def test_a_missing_header_is_named(webhook_rig, client, name, header):
    _malformed(webhook_rig, webhook_rig.send_sample(client, name, lambda h, b: h.pop(header)),
               f"missing header {header}")


def test_a_gitlab_delivery_without_any_id_names_both_headers(webhook_rig, client):
    def no_ids(headers, body):
        del headers["Idempotency-Key"], headers["X-Gitlab-Event-UUID"]

    _malformed(webhook_rig, webhook_rig.send_sample(client, "gitlab_push", no_ids),
               "missing header Idempotency-Key or X-Gitlab-Event-UUID")


@pytest.mark.parametrize("provider, headers", [
    ("github", {"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-1"}),
    ("gitlab", {"X-Gitlab-Event": "Push Hook", "X-Gitlab-Event-UUID": "d-1"}),
    ("bitbucket", {"X-Event-Key": "repo:push", "X-Request-UUID": "d-1"})])
@pytest.mark.parametrize("body, reason", [(b"{not json", "body is not JSON"), (b"[1, 2]", "expected a JSON object"),
                                          (b"", "body is not JSON"), (b"\xff\xfe\x00", "body is not JSON"),
                                          (b"[" * 100_000, "body is not JSON")])
def test_a_body_that_is_not_a_json_object_is_refused(webhook_rig, client, provider, headers, body, reason):
    _malformed(webhook_rig, webhook_rig.send(client, provider, body, headers), reason)


@pytest.mark.parametrize("name, edit, reason", [
    ("github_push", lambda h, b: b.update(after="0d1a26e"), "after: expected a 40-character"),
    ("github_push", lambda h, b: b.update(repository=["x"]), "repository.full_name: expected an object"),
    ("github_push", lambda h, b: b.update(ref="refs/heads/a..b"), "branch: not a valid git branch name"),
    ("github_push", lambda h, b: b.update(ref="refs/notes/x"), "ref: expected refs/heads/"),
    ("github_push", lambda h, b: b.update(deleted="no"), "deleted: expected true or false"),
    ("gitlab_push", lambda h, b: b["project"].pop("path_with_namespace"), "project.path_with_namespace"),
    ("gitlab_push", lambda h, b: b.update(object_kind="merge_request"), "object_kind: expected 'push'"),
    ("bitbucket_push", lambda h, b: b["push"].update(changes={}), "push.changes: expected a list"),
    ("bitbucket_push", lambda h, b: b["push"]["changes"][0]["new"]["target"].pop("hash"), "target.hash"),
    ("bitbucket_push", lambda h, b: b["repository"].update(full_name="team/re po"), "repository: expected a hosted"),
    ("github_push", lambda h, b: h.update({"X-GitHub-Delivery": "x" * 201}), "invalid header X-GitHub-Delivery"),
])
def test_a_push_with_a_field_the_provider_never_sends_is_refused(webhook_rig, client, name, edit, reason):
    _malformed(webhook_rig, webhook_rig.send_sample(client, name, edit), reason)


@pytest.mark.parametrize("body", [b"payload=1&payload=2", b"x=1", b"payload=%ZZ&&&", b"\xff=1"])
def test_a_form_encoded_github_body_without_one_json_payload_is_refused(webhook_rig, client, body):
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-GitHub-Event": "push",
               "X-GitHub-Delivery": "d-1"}
    answer = webhook_rig.send(client, "github", body, headers)
    assert answer[0] == 400, answer
    assert webhook_rig.published() == []
