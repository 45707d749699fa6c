"""A delivery id seen before gets 200 and publishes nothing again; the record expires (DynamoDB TTL) after a
week. Ids are kept per provider, so two providers' equal ids do not collide."""

from __future__ import annotations

import time

from chalicelib.webhooks.ledger import KEEP_SECONDS


def test_a_replayed_delivery_is_answered_200_and_publishes_nothing(webhook_rig, client):
    assert webhook_rig.send_sample(client, "github_push")[0] == 200
    assert len(webhook_rig.published()) == 1
    status, answer = webhook_rig.send_sample(client, "github_push")
    assert (status, answer) == (200, {"result": "duplicate", "delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958"})
    assert webhook_rig.published() == []


def test_the_record_carries_its_expiry_a_week_ahead(webhook_rig, client):
    before = int(time.time())
    webhook_rig.send_sample(client, "gitlab_push")
    [item] = webhook_rig.deliveries()
    assert item["delivery_id"] == {"S": "gitlab/f5e5f430-f57b-4e6e-9fac-d9128cd7232f"}
    assert before + KEEP_SECONDS <= int(item["expires_at"]["N"]) <= int(time.time()) + KEEP_SECONDS
    ttl = webhook_rig.pipeline.client("dynamodb").describe_time_to_live(TableName="pushdeploy-webhook-deliveries")
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"


def test_a_replayed_bitbucket_delivery_of_several_branches_publishes_none_again(webhook_rig, client):
    assert webhook_rig.send_sample(client, "bitbucket_push")[0] == 200
    assert len(webhook_rig.published()) == 2
    assert webhook_rig.send_sample(client, "bitbucket_push")[1]["result"] == "duplicate"
    assert webhook_rig.published() == []


def test_the_same_id_from_two_providers_is_two_deliveries(webhook_rig, client):
    same = "2f1a6c52-0000-4000-8000-000000000001"
    assert webhook_rig.send_sample(client, "github_push", lambda h, b: h.update({"X-GitHub-Delivery": same}))[0] == 200
    assert webhook_rig.send_sample(client, "bitbucket_push", lambda h, b: h.update({"X-Request-UUID": same}))[0] == 200
    assert len(webhook_rig.published()) == 3


def test_a_new_delivery_of_the_same_push_publishes_again(webhook_rig, client):
    """A redelivery keeps its id; a new id is a new delivery (the agent coalesces the requests into one build)."""
    webhook_rig.send_sample(client, "github_push")
    webhook_rig.send_sample(client, "github_push", lambda h, b: h.update({"X-GitHub-Delivery": "another"}))
    assert [r.event_id for r in webhook_rig.published()] == ["72d3162e-cc78-11e3-81ab-4c9367dc0958", "another"]
