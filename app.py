"""pushdeploy's Lambda functions. This file only wires events to handlers (chalicelib/ holds
the logic); which functions exist depends on the stage's PUSHDEPLOY_FUNCTIONS setting, because
Chalice imports this file with the stage's environment variables set (docs/lambda.md)."""

import logging
import os
from typing import Any

from chalice import AuthResponse, Chalice, IAMAuthorizer, Response
from chalice.app import AuthRequest, CloudWatchEvent, Rate, SNSEvent, SQSEvent

from chalicelib import settings
from chalicelib.dashboard import AUTH_TTL_SECONDS
from chalicelib.factory import Factory
from chalicelib.request.push_events import STATE_CHANGE_PATTERN

app = Chalice(app_name="pushdeploy")
logging.getLogger("chalicelib").setLevel(logging.INFO)
factory = Factory()
functions = settings.function_set(os.environ)

if functions.source:

    @app.lambda_function(name="request")
    def request(event: dict[str, Any], context: Any) -> dict[str, Any]:
        """Invoked by the CodeCommit repository trigger (set up on the repository, see docs)."""
        return factory.request().on_trigger(event)

    @app.on_cw_event(STATE_CHANGE_PATTERN, name="request_events")
    def request_events(event: CloudWatchEvent) -> dict[str, Any]:
        return factory.request().on_state_change(event.to_dict())


if functions.pipeline:
    REQUEST_TOPIC_ARN, CLOSE_TOPIC_ARN = settings.registration_topics(os.environ)
    WAKE_QUEUE_ARN = settings.wake_queue_arn(os.environ)  # None: a standard request topic invokes build_start

    if WAKE_QUEUE_ARN:

        @app.on_sqs_message(queue_arn=WAKE_QUEUE_ARN, batch_size=10, name="build_start")
        def build_start(event: SQSEvent) -> str:
            """Wakes for the builder pool (chalicelib/builders/build_start.py): each record an SNS envelope of a
            request."""
            return factory.build_start().handle_batch(record.body for record in event)
    else:

        @app.on_sns_message(topic=REQUEST_TOPIC_ARN, name="build_start")
        def build_start_from_topic(event: SNSEvent) -> str:
            return factory.build_start().handle(event.message)

    @app.on_sns_message(topic=CLOSE_TOPIC_ARN, name="close")
    def close(event: SNSEvent) -> str:
        return factory.close().handle(event.message)

    @app.on_sns_message(topic=CLOSE_TOPIC_ARN, name="notify")
    def notify(event: SNSEvent) -> str:
        return factory.notify().handle(event.message)

    @app.on_sns_message(topic=CLOSE_TOPIC_ARN, name="history")
    def history(event: SNSEvent) -> str:
        """Records each build result once (chalicelib/history/store.py); off the build's path: the agent only
        publishes."""
        return factory.history().handle(event.message)

    @app.schedule(Rate(settings.RECONCILE_EVERY_MINUTES, unit=Rate.MINUTES), name="reconcile")
    def reconcile(event: CloudWatchEvent) -> dict[str, Any]:
        """Starts a stopped builder when requests wait, stops one nobody serves, announces stale requests and
        dead letters (chalicelib/builders/reconcile.py)."""
        return factory.reconcile().handle()

    # ---------------------------------------------------------------- webhook routes (issue 9, docs/webhooks.md)
    # No IAM authorizer: each delivery proves its origin with the provider's signature or token.

    def _webhook(provider: str) -> Response:
        request = app.current_request
        status, body = factory.webhook_answer(provider, request.headers, request.raw_body)
        return Response(body=body, status_code=status, headers={"Content-Type": "application/json"})

    @app.route("/webhooks/github", methods=["POST"],
               content_types=["application/json", "application/x-www-form-urlencoded"])
    def github_webhook() -> Response:
        return _webhook("github")

    @app.route("/webhooks/gitlab", methods=["POST"], content_types=["application/json"])
    def gitlab_webhook() -> Response:
        return _webhook("gitlab")

    @app.route("/webhooks/bitbucket", methods=["POST"], content_types=["application/json"])
    def bitbucket_webhook() -> Response:
        return _webhook("bitbucket")


if functions.pipeline:  # ---- pipeline API (docs/api.md): IAM unless the stage is local
    API_AUTHORIZER = IAMAuthorizer() if settings.api_auth(os.environ) == "iam" else None

    def _api_answer(answer: Any) -> Response:
        return Response(body=answer.body, status_code=answer.status, headers={"Content-Type": "application/json"})

    @app.route("/pipelines", methods=["GET"], authorizer=API_AUTHORIZER)
    def list_pipelines() -> Response:
        return _api_answer(factory.pipeline_api().list())

    @app.route("/pipelines/{pipeline}/builds", methods=["POST"], authorizer=API_AUTHORIZER)
    def request_build(pipeline: str) -> Response:
        request = app.current_request
        return _api_answer(factory.pipeline_api().build(pipeline, request.raw_body, request.context))

    @app.route("/pipelines/{pipeline}/rollback", methods=["POST"], authorizer=API_AUTHORIZER)
    def request_rollback(pipeline: str) -> Response:
        request = app.current_request
        return _api_answer(factory.pipeline_api().rollback(pipeline, request.raw_body, request.context))

    # ---- build history and what runs where (docs/api.md "Build history"); the dashboard reads these.
    # Deployed stages: a bearer token a browser can send (docs/dashboard.md); the local stage: no auth.
    READ_AUTHORIZER = None
    if API_AUTHORIZER is not None:

        @app.authorizer(name="dashboard_auth", ttl_seconds=AUTH_TTL_SECONDS)
        def dashboard_auth(auth_request: AuthRequest) -> AuthResponse:
            return factory.dashboard_authorize(auth_request.token)

        READ_AUTHORIZER = dashboard_auth

    @app.route("/builds", methods=["GET"], authorizer=READ_AUTHORIZER)
    def list_builds() -> Response:
        return _api_answer(factory.history_api().builds(app.current_request.query_params))

    @app.route("/builds/{build_id}", methods=["GET"], authorizer=READ_AUTHORIZER)
    def get_build(build_id: str) -> Response:
        return _api_answer(factory.history_api().build(build_id))

    @app.route("/status", methods=["GET"], authorizer=READ_AUTHORIZER)
    def service_status() -> Response:
        return _api_answer(factory.history_api().status())


if functions.pipeline:  # ---- the dashboard (docs/dashboard.md): one page, no auth (it holds no data)

    @app.route("/dashboard", methods=["GET"])
    def dashboard() -> Response:
        page = factory.dashboard_page()
        return Response(body=page.body, status_code=200, headers=page.headers)
