"""Fixtures of the webhook route tests: the rig in moto, and the app imported for a pipeline stage with it."""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType

import pytest
from chalice.test import Client

from tests.lambda_app import chalice_client, import_app
from tests.webhooks.rig import WebhookRig, make_webhook_rig


@pytest.fixture
def webhook_rig(aws) -> WebhookRig:
    return make_webhook_rig(aws)


@pytest.fixture
def app_module(webhook_rig, monkeypatch) -> ModuleType:
    return import_app(monkeypatch, webhook_rig.env())


@pytest.fixture
def client(app_module, tmp_path) -> Iterator[Client]:
    with chalice_client(app_module, tmp_path) as test_client:
        yield test_client
