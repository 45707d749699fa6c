"""Builds the handlers with their AWS clients, once per Lambda container.

app.py makes one Factory at import, which is free: no boto3 import, no client, no settings read
until the first invocation needs them. Clients and the webhook URL are cached on the Factory
instance, never in module globals, so a test that imports app afresh starts with empty caches.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Optional

from chalicelib import settings
from chalicelib.arns import parse_arn

if TYPE_CHECKING:
    from chalice.app import AuthResponse

    from chalicelib.builders.build_start import BuildStartHandler
    from chalicelib.builders.close import CloseHandler
    from chalicelib.builders.pool import BuilderPool
    from chalicelib.builders.reconcile import ReconcileHandler
    from chalicelib.dashboard.page import Page
    from chalicelib.dashboard.token import DashboardToken
    from chalicelib.history.api import HistoryApi
    from chalicelib.history.store import HistoryHandler, HistoryTable
    from chalicelib.notify.handler import NotifyHandler
    from chalicelib.notify.webhook_secret import WebhookSecret
    from chalicelib.request.handler import RequestHandler
    from chalicelib.request.pipeline_api import PipelineApi, UnconfiguredApi
    from chalicelib.webhooks.handler import WebhookHandler
    from chalicelib.webhooks.secret_store import SecretStore


def _live_environ() -> Mapping[str, str]:
    return os.environ


class Factory:
    def __init__(self, environ: Callable[[], Mapping[str, str]] = _live_environ) -> None:
        self._environ = environ
        self._clients: dict[tuple[str, Optional[str]], Any] = {}
        self._secrets: dict[str, WebhookSecret] = {}
        # webhook routes: the clock the secret store rate-limits its re-reads by (a test may replace it)
        self.webhook_clock: Callable[[], float] = time.monotonic
        self._webhook_secrets: dict[str, SecretStore] = {}
        # the dashboard: its page (read once) and token (cached per parameter, re-read on the clock below)
        self.dashboard_clock: Callable[[], float] = time.monotonic
        self._dashboard_page: Optional[Page] = None
        self._dashboard_tokens: dict[str, DashboardToken] = {}

    def client(self, service: str, region: Optional[str] = None) -> Any:
        """A boto3 client, created on first use (boto3 is imported only then: cheap cold import)."""
        key = (service, region)
        if key not in self._clients:
            import boto3

            self._clients[key] = boto3.client(service, region_name=region)
        return self._clients[key]

    def request(self) -> RequestHandler:
        from chalicelib.request.handler import RequestHandler
        from chalicelib.request.topic import RequestTopic

        source = settings.load_source(self._environ())
        region = parse_arn(source.request_topic_arn).region  # the topic may live in another account/region
        return RequestHandler(source.branch_filter, RequestTopic(self.client("sns", region), source.request_topic_arn))

    def _pool(self, pipeline: settings.PipelineSettings) -> BuilderPool:
        from chalicelib.builders.pool import BuilderPool

        return BuilderPool(self.client("ec2"), pipeline.builder_instance_ids, pipeline.builder_tag)

    def build_start(self) -> BuildStartHandler:
        from chalicelib.builders.build_start import BuildStartHandler

        return BuildStartHandler(self._pool(settings.load_pipeline(self._environ())))

    def close(self) -> CloseHandler:
        from chalicelib.builders.build_queue import BuildQueue
        from chalicelib.builders.close import CloseHandler

        pipeline = settings.load_pipeline(self._environ())
        return CloseHandler(self._pool(pipeline), BuildQueue(self.client("sqs"), pipeline.build_queue_url))

    def reconcile(self, **options: Any) -> ReconcileHandler:
        """``options`` go to the handler (a test may pass a ``clock``)."""
        from chalicelib.builders.alert_topic import AlertTopic
        from chalicelib.builders.build_queue import BuildQueue
        from chalicelib.builders.dead_letters import DeadLetterQueue
        from chalicelib.builders.queue_age import QueueAge
        from chalicelib.builders.reconcile import ReconcileHandler

        pipeline = settings.load_pipeline(self._environ())
        return ReconcileHandler(
            self._pool(pipeline), BuildQueue(self.client("sqs"), pipeline.build_queue_url),
            QueueAge(self.client("cloudwatch"), pipeline.build_queue_url),
            DeadLetterQueue(self.client("sqs"), pipeline.dead_letter_queue_url),
            AlertTopic(self.client("sns"), pipeline.close_topic_arn),
            pipeline.builder_idle_minutes, pipeline.stale_request_minutes, **options)

    def notify(self) -> NotifyHandler:
        from chalicelib.notify.handler import NotifyHandler
        from chalicelib.notify.slack import SlackWebhook
        from chalicelib.notify.webhook_secret import WebhookSecret

        pipeline = settings.load_pipeline(self._environ())
        name = pipeline.slack_webhook_parameter
        if name not in self._secrets:
            self._secrets[name] = WebhookSecret(self.client("ssm"), name)
        return NotifyHandler(SlackWebhook(self._secrets[name], pipeline.notify_timeout_seconds), pipeline.region)

    # ---- pipeline API (docs/api.md)
    def pipeline_api(self) -> PipelineApi | UnconfiguredApi:
        from chalicelib.errors import SettingsError
        from chalicelib.request.pipeline_api import AgentSettingsParameter, PipelineApi, UnconfiguredApi
        from chalicelib.request.topic import RequestTopic

        try:
            api = settings.load_api(self._environ())
        except SettingsError as exc:
            return UnconfiguredApi(exc)
        region = parse_arn(api.request_topic_arn).region  # the topic may live in another region
        return PipelineApi(AgentSettingsParameter(self.client("ssm"), api.agent_settings_parameter),
                           RequestTopic(self.client("sns", region), api.request_topic_arn), api.auth)

    # ------------------------------------------------------------ build history (issue 10, docs/api.md)

    def _history_table(self) -> HistoryTable:
        from chalicelib.history.store import HistoryTable

        return HistoryTable(self.client("dynamodb"), settings.load_history_table(self._environ()))

    def history(self) -> HistoryHandler:
        from chalicelib.history.store import HistoryHandler

        return HistoryHandler(self._history_table())

    def history_api(self) -> HistoryApi | UnconfiguredApi:
        from chalicelib.errors import SettingsError
        from chalicelib.history.api import HistoryApi
        from chalicelib.request.pipeline_api import AgentSettingsParameter, UnconfiguredApi

        try:
            table = self._history_table()
        except SettingsError as exc:
            return UnconfiguredApi(exc)
        name = self._environ().get(settings.AGENT_SETTINGS_PARAMETER, "").strip()
        parameter = AgentSettingsParameter(self.client("ssm"), name) if name else None
        return HistoryApi(table, parameter, ecs=lambda: self.client("ecs"))

    # ------------------------------------------------------------ webhook routes (issue 9)

    def webhook_client(self, service: str, region: Optional[str] = None) -> Any:
        """A client for the webhook path: short timeouts and one retry, so a slow AWS call ends in a 503 the
        provider retries, within its own timeout (GitHub gives up after 10 s), instead of a hung request."""
        key = (f"{service}#webhook", region)
        if key not in self._clients:
            import boto3
            from botocore.config import Config

            config = Config(connect_timeout=1, read_timeout=2, retries={"total_max_attempts": 2, "mode": "standard"})
            self._clients[key] = boto3.client(service, region_name=region, config=config)
        return self._clients[key]

    def webhook_answer(self, provider: str, headers: Mapping[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        """(status, JSON body) for a delivery to ``POST /webhooks/<provider>``."""
        from chalicelib.webhooks.route import answer

        return answer(self.webhooks, provider, headers, body)

    def webhooks(self) -> WebhookHandler:
        from chalicelib.request.topic import RequestTopic
        from chalicelib.webhooks.handler import WebhookHandler
        from chalicelib.webhooks.ledger import DeliveryLedger
        from chalicelib.webhooks.secret_store import SecretStore

        hooks = settings.load_webhooks(self._environ())
        if hooks.secret_prefix not in self._webhook_secrets:  # the cached secrets live as long as the container
            self._webhook_secrets[hooks.secret_prefix] = SecretStore(
                self.webhook_client("ssm"), hooks.secret_prefix, clock=lambda: self.webhook_clock())
        topic = RequestTopic(self.webhook_client("sns", parse_arn(hooks.request_topic_arn).region),
                             hooks.request_topic_arn)
        return WebhookHandler(self._webhook_secrets[hooks.secret_prefix],
                              DeliveryLedger(self.webhook_client("dynamodb"), hooks.deliveries_table), topic,
                              hooks.branch_filter)

    # ------------------------------------------------------------ the dashboard (docs/dashboard.md)

    def dashboard_page(self) -> Page:
        from chalicelib.dashboard.page import load_page

        if self._dashboard_page is None:
            self._dashboard_page = load_page()
        return self._dashboard_page

    def dashboard_authorize(self, header: Optional[str]) -> AuthResponse:
        """The read routes' authorizer answer for an ``Authorization`` header (deployed stages)."""
        from chalicelib.dashboard.auth import authorize
        from chalicelib.dashboard.token import DashboardToken

        name = settings.dashboard_token_parameter(self._environ())
        if name not in self._dashboard_tokens:  # an authorizer must answer fast: the short-timeout client
            self._dashboard_tokens[name] = DashboardToken(self.webhook_client("ssm"), name,
                                                          clock=lambda: self.dashboard_clock())
        return authorize(self._dashboard_tokens[name], header)
