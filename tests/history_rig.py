"""Real parts for the build history tests: the history table in moto (made as the rig provisions it, with the
template's keys and indexes), results as the agent publishes them, and app.py's ``history`` function and read
routes driven through chalice's test client."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from chalicelib.contracts import (
    BuildResult,
    CommitInfo,
    ImageInfo,
    LogLocation,
    ServiceDeployment,
    StepTiming,
)
from localrig.provision import AccountSpec, create_history_table
from tests.lambda_app import chalice_client, import_app, sns_event

CLOSE_TOPIC = "arn:aws:sns:us-east-1:123456789012:pushdeploy-close"
START = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
TD = "arn:aws:ecs:us-east-1:123456789012:task-definition/production-task:{}"


def make_table(session: boto3.Session) -> str:
    return create_history_table(lambda name: session.client(name), AccountSpec())


def env(table: str, **overrides: str) -> dict[str, str]:
    settings = {"PUSHDEPLOY_FUNCTIONS": "pipeline", "REQUEST_TOPIC_ARN": CLOSE_TOPIC.replace("close", "request"),
                "CLOSE_TOPIC_ARN": CLOSE_TOPIC, "BUILD_HISTORY_TABLE": table, "PUSHDEPLOY_API_AUTH": "none"}
    settings.update(overrides)
    return settings


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def result(n: int = 0, pipeline: str = "sample/production", *, outcome: str = "succeeded",
           build_id: str | None = "fresh", error: str | None = None) -> BuildResult:
    """The n-th build (started n minutes after START), with every field history records filled in."""
    repository, branch = pipeline.rsplit("/", 1)
    started = START + timedelta(minutes=n)
    sha = f"{n:040x}"
    steps = tuple(StepTiming(name, stamp(started + timedelta(seconds=i)), 0.5 + i, ok=True)
                  for i, name in enumerate(("source", "login", "build", "push", "register", "update", "rollout_wait")))
    if outcome != "succeeded":
        steps = steps[:-1] + (StepTiming("rollout_wait", steps[-1].started_at, 3.0, ok=False),)
    return BuildResult(
        pipeline=pipeline, repository=repository, branch=branch, outcome=outcome, commit=sha,
        started_at=stamp(started), finished_at=stamp(started + timedelta(seconds=42)),
        commits=(CommitInfo(sha, f"Change number {n}", "Alice <alice@example.com>"),),
        image=ImageInfo(f"127.0.0.1:5000/production/sample:20261129120000-{sha[:7]}", f"20261129120000-{sha[:7]}",
                        "sha256:" + "ab" * 32),
        services=(ServiceDeployment("production-cluster", "web", TD.format(n + 1), TD.format(n + 2)),),
        error=error, log=LogLocation("/pushdeploy/builds", f"sample/production/{n}", "us-east-1"),
        builder_instance_id="i-0123456789abcdef0", trigger="github", requested_by="octocat",
        build_id=uuid.uuid4().hex if build_id == "fresh" else build_id, steps=steps)


class HistoryApp:
    """app.py for a stage with the history table: deliver close-topic messages, call the read routes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: dict[str, str]) -> None:
        self.client = chalice_client(import_app(monkeypatch, settings), tmp_path)

    def deliver(self, message: BuildResult | str) -> Any:
        text = message if isinstance(message, str) else message.to_json()
        return self.client.lambda_.invoke("history", sns_event(self.client, text)).payload

    def get(self, path: str) -> tuple[int, dict[str, Any]]:
        response = self.client.http.get(path)
        return response.status_code, json.loads(response.body)


def items(session: boto3.Session, table: str) -> list[dict[str, Any]]:
    return session.client("dynamodb").scan(TableName=table)["Items"]
