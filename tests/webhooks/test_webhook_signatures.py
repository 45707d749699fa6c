"""A delivery without its provider's valid proof of origin gets 401 and publishes nothing, whatever else it
carries; the check happens before the body is read."""

from __future__ import annotations

import json

import pytest

from tests.webhooks.rig import sample

CASES = [("github_push", "X-Hub-Signature-256"), ("gitlab_push", "X-Gitlab-Token"),
         ("bitbucket_push", "X-Hub-Signature")]


def _refused(rig, answer) -> None:
    status, body = answer
    assert (status, body) == (401, {"result": "unauthorized", "reason": "missing or invalid signature"})
    assert rig.published() == [] and rig.deliveries() == []


@pytest.mark.parametrize("name, header", CASES)
def test_a_delivery_signed_with_another_secret_is_refused(webhook_rig, client, name, header):
    _refused(webhook_rig, webhook_rig.send_sample(client, name, secret="not-the-secret"))


@pytest.mark.parametrize("name, header", CASES)
def test_a_delivery_without_its_signature_header_is_refused(webhook_rig, client, name, header):
    _refused(webhook_rig, webhook_rig.send_sample(client, name, sign=False))


@pytest.mark.parametrize("name, header", CASES)
def test_a_signature_of_another_body_is_refused(webhook_rig, client, name, header):
    delivery = sample(name)
    provider = name.split("_")[0]
    body = json.dumps(delivery["body"]).encode()
    headers = webhook_rig.sign(provider, body + b" ", delivery["headers"])
    if provider == "gitlab":  # the token signs no body: send it to the wrong provider's route instead
        headers = webhook_rig.sign("gitlab", body, delivery["headers"], secret=webhook_rig.secrets["github"])
    _refused(webhook_rig, webhook_rig.send(client, provider, body, headers, sign=False))


def test_a_garbage_body_without_a_signature_gets_401_not_400(webhook_rig, client):
    """An unauthenticated caller learns nothing about how the body would have been read."""
    _refused(webhook_rig, webhook_rig.send(client, "github", b"{not json", {"X-GitHub-Event": "push"}, sign=False))


def test_the_secret_of_one_provider_does_not_open_another_providers_route(webhook_rig, client):
    delivery = sample("bitbucket_push")
    body = json.dumps(delivery["body"]).encode()
    _refused(webhook_rig, webhook_rig.send(client, "bitbucket", body, delivery["headers"],
                                           secret=webhook_rig.secrets["github"]))


def test_without_a_secret_parameter_every_delivery_is_refused(webhook_rig, client, caplog):
    webhook_rig.pipeline.client("ssm").delete_parameter(Name="/pushdeploy/webhooks/gitlab")
    _refused(webhook_rig, webhook_rig.send_sample(client, "gitlab_push", secret=""))
    assert "no SSM parameter /pushdeploy/webhooks/gitlab" in caplog.text
    assert webhook_rig.secrets["gitlab"] not in caplog.text
