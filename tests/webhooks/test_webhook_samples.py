"""The providers' own documented sample deliveries publish the build request the agent expects."""

from __future__ import annotations

import hmac

from chalicelib.webhooks.signatures import sha256_signature_matches, sign_sha256
from tests.webhooks.rig import sample


def test_githubs_documented_signature_test_vector_verifies():
    vector = sample("github_signature_vector")
    body = vector["payload"].encode()
    assert sign_sha256(vector["secret"], body) == vector["signature"]
    assert sha256_signature_matches(vector["secret"], body, vector["signature"])
    assert not sha256_signature_matches(vector["secret"], body + b" ", vector["signature"])
    assert not sha256_signature_matches("It's a secret to everybody", body, vector["signature"])
    assert hmac.compare_digest(vector["signature"], sign_sha256(vector["secret"], body))


def test_a_github_push_publishes_one_request_for_the_branch(webhook_rig, client):
    status, answer = webhook_rig.send_sample(client, "github_push")
    assert (status, answer["result"]) == (200, "published")
    [request] = webhook_rig.published()
    assert (request.repository, request.branch, request.commit) == (
        "Codertocat/Hello-World", "main", "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c")
    assert (request.source, request.trigger, request.event_id, request.pushed_by, request.action) == (
        "webhook", "github", "72d3162e-cc78-11e3-81ab-4c9367dc0958", "Codertocat", "build")
    assert not (request.force or request.pin) and request.version == 2
    assert answer["requests"] == ["Codertocat/Hello-World/main@0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"]


def test_a_form_encoded_github_push_publishes_the_same_request(webhook_rig, client):
    import json
    from urllib.parse import urlencode

    delivery = sample("github_push")
    body = urlencode({"payload": json.dumps(delivery["body"])}).encode()
    headers = dict(delivery["headers"], **{"Content-Type": "application/x-www-form-urlencoded"})
    status, answer = webhook_rig.send(client, "github", body, headers)
    assert (status, answer["result"]) == (200, "published")
    [request] = webhook_rig.published()
    assert (request.repository, request.branch, request.trigger) == ("Codertocat/Hello-World", "main", "github")


def test_a_github_ping_is_answered_and_builds_nothing(webhook_rig, client):
    status, answer = webhook_rig.send_sample(client, "github_ping")
    assert (status, answer["result"]) == (200, "pong")
    assert webhook_rig.published() == [] and webhook_rig.deliveries() == []


def test_a_gitlab_push_hook_publishes_one_request_named_by_path_with_namespace(webhook_rig, client):
    status, answer = webhook_rig.send_sample(client, "gitlab_push")
    assert (status, answer["result"]) == (200, "published")
    [request] = webhook_rig.published()
    assert (request.repository, request.branch, request.commit, request.trigger, request.pushed_by) == (
        "mike/diaspora", "master", "da1560886d4f094c3e6c9ef40349f7d38b5d27d7", "gitlab", "jsmith")
    assert request.event_id == "f5e5f430-f57b-4e6e-9fac-d9128cd7232f"  # Idempotency-Key: the same on a retry


def test_a_gitlab_push_without_an_idempotency_key_is_named_by_its_event_uuid(webhook_rig, client):
    status, _ = webhook_rig.send_sample(client, "gitlab_push", lambda h, b: h.pop("Idempotency-Key"))
    assert status == 200
    assert [r.event_id for r in webhook_rig.published()] == ["13792a34-cac6-4fda-95a8-c58e00a3954e"]


def test_a_bitbucket_push_publishes_one_request_per_changed_branch_and_none_for_the_tag(webhook_rig, client):
    status, answer = webhook_rig.send_sample(client, "bitbucket_push")
    assert (status, answer["result"]) == (200, "published")
    requests = sorted(webhook_rig.published(), key=lambda r: r.branch)
    delivery = "b4b9b0b2-6a4a-4c2b-9e7f-0c9d8e7f6a5b"
    assert [(r.repository, r.branch, r.commit, r.event_id) for r in requests] == [
        ("team_name/repo_name", "main", "1e65c05c1d5171631d92438a13901ca7dae9618c", f"{delivery}#main"),
        ("team_name/repo_name", "release/2.0", "3f2e1d0c9b8a7f6e5d4c3b2a1f0e9d8c7b6a5f4e", f"{delivery}#release/2.0")]
    assert {(r.trigger, r.pushed_by, r.source) for r in requests} == {("bitbucket", "emma", "webhook")}
    assert answer["not_built"] == ["tag v2.0 of team_name/repo_name: tags never build"]


def test_a_bitbucket_push_of_one_branch_keeps_the_delivery_id_as_its_event_id(webhook_rig, client):
    def one_branch(headers, body):
        del body["push"]["changes"][1:]

    assert webhook_rig.send_sample(client, "bitbucket_push", one_branch)[0] == 200
    assert [r.event_id for r in webhook_rig.published()] == ["b4b9b0b2-6a4a-4c2b-9e7f-0c9d8e7f6a5b"]
