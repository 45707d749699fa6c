"""A real git push into a rig repository sends the provider's push webhook, signed as that provider signs."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import stat
import subprocess

import pytest
from werkzeug import Response

from localrig.git import webhook_hook
from localrig.git.webhook_hook import WebhookConfig

SECRET = "hook-secret-1f3a"
GIT_ENV = {"GIT_AUTHOR_NAME": "Dev", "GIT_AUTHOR_EMAIL": "d@example.com", "GIT_COMMITTER_NAME": "Dev",
           "GIT_COMMITTER_EMAIL": "d@example.com", "GIT_PUSHER": "dev", "PATH": os.environ["PATH"]}


def git(cwd, *args) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True, env=GIT_ENV,
                          timeout=60)


def repository(tmp_path, provider: str, url: str):
    bare = tmp_path / "octo" / "app.git"
    subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True, timeout=30)
    webhook_hook.install(bare, WebhookConfig(provider, url, SECRET, "octo/app"))
    work = tmp_path / "work"
    git(tmp_path, "init", "-q", "-b", "main", str(work))
    git(work, "commit", "-q", "--allow-empty", "-m", "first")
    git(work, "remote", "add", "origin", str(bare))
    return bare, work


def received(httpserver) -> list[tuple[dict[str, str], bytes]]:
    return [(dict(request.headers), request.get_data()) for request, _ in httpserver.log]


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def test_a_push_sends_one_signed_github_push_event_per_ref(tmp_path, httpserver):
    httpserver.expect_request("/webhooks/github", method="POST").respond_with_json({"accepted": 1}, status=202)
    bare, work = repository(tmp_path, "github", httpserver.url_for("/webhooks/github"))
    sha = git(work, "rev-parse", "HEAD").stdout.strip()
    git(work, "tag", "v1")
    git(work, "push", "-q", "origin", "HEAD:refs/heads/production", "refs/tags/v1")

    deliveries = received(httpserver)
    assert len(deliveries) == 2
    refs = set()
    for headers, body in deliveries:
        assert headers["X-Hub-Signature-256"] == sign(body)
        assert headers["X-Github-Event"] == "push" and headers["Content-Type"] == "application/json"
        payload = json.loads(body)
        assert payload["after"] == sha and payload["repository"]["full_name"] == "octo/app"
        assert payload["pusher"]["name"] == "dev"
        refs.add(payload["ref"])
    assert refs == {"refs/heads/production", "refs/tags/v1"}
    log = webhook_hook.delivery_log(bare)
    assert [entry["status"] for entry in log] == [202, 202]
    assert {entry["delivery_id"] for entry in log} == {h["X-Github-Delivery"] for h, _ in deliveries}


def test_gitlab_gets_its_token_and_a_deleted_branch_says_after_zeros(tmp_path, httpserver):
    httpserver.expect_request("/webhooks/gitlab", method="POST").respond_with_json({}, status=200)
    bare, work = repository(tmp_path, "gitlab", httpserver.url_for("/webhooks/gitlab"))
    git(work, "push", "-q", "origin", "HEAD:refs/heads/production")
    git(work, "push", "-q", "origin", ":refs/heads/production")

    (created_headers, created), (_, deleted) = received(httpserver)
    assert created_headers["X-Gitlab-Token"] == SECRET and created_headers["X-Gitlab-Event"] == "Push Hook"
    assert created_headers["X-Gitlab-Event-Uuid"]
    assert json.loads(created)["project"]["path_with_namespace"] == "octo/app"
    assert json.loads(deleted)["after"] == "0" * 40 and json.loads(deleted)["checkout_sha"] is None


def test_bitbucket_sends_one_delivery_listing_every_changed_branch(tmp_path, httpserver):
    httpserver.expect_request("/webhooks/bitbucket", method="POST").respond_with_json({}, status=202)
    bare, work = repository(tmp_path, "bitbucket", httpserver.url_for("/webhooks/bitbucket"))
    sha = git(work, "rev-parse", "HEAD").stdout.strip()
    git(work, "push", "-q", "origin", "HEAD:refs/heads/production", "HEAD:refs/heads/staging")

    [(headers, body)] = received(httpserver)
    assert headers["X-Event-Key"] == "repo:push" and headers["X-Hub-Signature"] == sign(body)
    changes = json.loads(body)["push"]["changes"]
    assert sorted(c["new"]["name"] for c in changes) == ["production", "staging"]
    assert all(c["new"]["target"]["hash"] == sha and c["created"] and c["old"] is None for c in changes)


def test_a_refused_delivery_is_shown_to_the_pusher_and_logged_without_the_secret(tmp_path, httpserver):
    httpserver.expect_request("/webhooks/gitlab").respond_with_response(Response('{"error": "bad token"}', 401))
    bare, work = repository(tmp_path, "gitlab", httpserver.url_for("/webhooks/gitlab"))
    pushed = git(work, "push", "origin", "HEAD:refs/heads/production")

    assert "pushdeploy webhook:" in pushed.stderr and "401" in pushed.stderr
    [entry] = webhook_hook.delivery_log(bare)
    assert entry["status"] == 401
    assert SECRET not in (bare / webhook_hook.LOG_NAME).read_text() and SECRET not in pushed.stderr
    assert stat.S_IMODE((bare / webhook_hook.CONFIG_NAME).stat().st_mode) == 0o600


def test_an_unknown_provider_is_refused_at_install(tmp_path):
    with pytest.raises(webhook_hook.HookError, match="gitea"):
        webhook_hook.install(tmp_path, WebhookConfig("gitea", "http://127.0.0.1:1/", SECRET, "octo/app"))
