"""A body over the documented limit (1 MiB) gets 413 before its signature or content is looked at; one at the
limit is read as usual."""

from __future__ import annotations

import json

import pytest

from chalicelib.webhooks.delivery import MAX_BODY_BYTES
from tests.webhooks.rig import sample


def _padded(name: str, size: int) -> tuple[bytes, dict[str, str]]:
    """The sample with a commit message padded so the JSON body is exactly ``size`` bytes."""
    delivery = sample(name)
    body = delivery["body"]
    body["message"] = ""
    body["message"] = "x" * (size - len(json.dumps(body).encode()))
    data = json.dumps(body).encode()
    assert len(data) == size
    return data, delivery["headers"]


@pytest.mark.parametrize("provider", ["github", "gitlab", "bitbucket"])
def test_a_body_over_the_limit_gets_413_and_publishes_nothing(webhook_rig, client, provider):
    body = b"{" + b" " * MAX_BODY_BYTES + b"}"
    status, answer = webhook_rig.send(client, provider, body, {})
    assert (status, answer["result"]) == (413, "too large")
    assert str(MAX_BODY_BYTES) in answer["reason"]
    assert webhook_rig.published() == [] and webhook_rig.deliveries() == []


def test_a_signed_push_one_byte_over_the_limit_is_refused_and_one_at_the_limit_builds(webhook_rig, client):
    body, headers = _padded("gitlab_push", MAX_BODY_BYTES + 1)
    assert webhook_rig.send(client, "gitlab", body, headers)[0] == 413
    body, headers = _padded("gitlab_push", MAX_BODY_BYTES)
    assert webhook_rig.send(client, "gitlab", body, headers)[0] == 200
    assert len(webhook_rig.published()) == 1
