"""Push deliveries as GitHub, GitLab and Bitbucket Cloud send them, made from a real bare repository.

Shapes follow each provider's documentation of its push event (GitHub ``push``, GitLab "Push Hook",
Bitbucket ``repo:push``), with the fields a receiver reads filled from git. Each provider signs or
authenticates its own way, which ``delivery`` applies: GitHub ``X-Hub-Signature-256`` (HMAC-SHA256
of the body), GitLab the secret itself in ``X-Gitlab-Token``, Bitbucket ``X-Hub-Signature: sha256=``.
One GitHub or GitLab delivery per ref; one Bitbucket delivery for the whole push.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from localrig.git.codecommit import ZERO, RefUpdate

ZERO_SHA = ZERO
PROVIDERS = ("github", "gitlab", "bitbucket")


class PayloadError(RuntimeError):
    """The repository, ref or commit cannot be read; the message names it."""


@dataclass(frozen=True)
class Delivery:
    """One HTTP request a provider sends: its id, headers and exact body."""

    provider: str
    delivery_id: str
    headers: dict[str, str]
    body: bytes


def hmac_sha256(secret: bytes, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def git(git_dir: Path, *args: str) -> str:
    done = subprocess.run(["git", "--git-dir", str(git_dir), *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise PayloadError(f"git {' '.join(args)} in {git_dir}: {done.stderr.strip()}")
    return done.stdout.strip()


def commit_facts(git_dir: Path, sha: str) -> dict[str, str]:
    fields = git(git_dir, "show", "-s", "--format=%T%x00%an%x00%ae%x00%cn%x00%ce%x00%cI%x00%B", sha).split("\0")
    keys = ("tree", "author", "author_email", "committer", "committer_email", "date", "message")
    return dict(zip(keys, [*fields[:6], fields[6].strip()], strict=True))


def branch_update(git_dir: Path, branch: str) -> RefUpdate:
    """The branch's head as if its last commit had just been pushed (old = its parent, zeros for a root)."""
    new = git(git_dir, "rev-parse", "--verify", f"refs/heads/{branch}^{{commit}}")
    parents = git(git_dir, "rev-list", "--parents", "-n", "1", new).split()[1:]
    return RefUpdate(parents[0] if parents else ZERO_SHA, new, f"refs/heads/{branch}")


# ---------------------------------------------------------------- GitHub


def github_push(git_dir: Path, repository: str, update: RefUpdate, pusher: str) -> dict[str, Any]:
    deleted, created = update.new == ZERO_SHA, update.old == ZERO_SHA
    head = None if deleted else _github_commit(git_dir, repository, update.new)
    owner = repository.split("/")[0] if "/" in repository else pusher
    return {
        "ref": update.ref, "before": update.old, "after": update.new, "created": created, "deleted": deleted,
        "forced": False, "base_ref": None,
        "compare": f"https://github.com/{repository}/compare/{update.old[:12]}...{update.new[:12]}",
        "commits": [head] if head else [], "head_commit": head,
        "repository": {"name": repository.rsplit("/", 1)[-1], "full_name": repository, "private": True,
                       "owner": {"name": owner, "login": owner}, "default_branch": "main",
                       "clone_url": f"file://{git_dir}", "html_url": f"https://github.com/{repository}"},
        "pusher": {"name": pusher, "email": f"{pusher}@example.com"},
        "sender": {"login": pusher, "type": "User"},
    }


def _github_commit(git_dir: Path, repository: str, sha: str) -> dict[str, Any]:
    facts = commit_facts(git_dir, sha)
    return {"id": sha, "tree_id": facts["tree"], "distinct": True, "message": facts["message"],
            "timestamp": facts["date"], "url": f"https://github.com/{repository}/commit/{sha}",
            "author": {"name": facts["author"], "email": facts["author_email"]},
            "committer": {"name": facts["committer"], "email": facts["committer_email"]},
            "added": [], "removed": [], "modified": []}


def github_delivery(payload: dict[str, Any], secret: bytes) -> Delivery:
    body = json.dumps(payload).encode()
    delivery_id = str(uuid.uuid4())
    headers = {"Content-Type": "application/json", "User-Agent": "GitHub-Hookshot/pushdeploy-rig",
               "X-GitHub-Event": "push", "X-GitHub-Delivery": delivery_id,
               "X-Hub-Signature-256": hmac_sha256(secret, body),
               "X-Hub-Signature": "sha1=" + hmac.new(secret, body, hashlib.sha1).hexdigest()}
    return Delivery("github", delivery_id, headers, body)


# ---------------------------------------------------------------- GitLab


def gitlab_push(git_dir: Path, repository: str, update: RefUpdate, pusher: str) -> dict[str, Any]:
    commits = [] if update.new == ZERO_SHA else [_gitlab_commit(git_dir, repository, update.new)]
    web_url = f"https://gitlab.example.com/{repository}"
    project = {"id": 1, "name": repository.rsplit("/", 1)[-1], "path_with_namespace": repository,
               "namespace": repository.split("/")[0], "web_url": web_url, "default_branch": "main",
               "git_http_url": f"{web_url}.git", "git_ssh_url": f"git@gitlab.example.com:{repository}.git",
               "visibility_level": 0}
    return {"object_kind": "push", "event_name": "push", "before": update.old, "after": update.new,
            "ref": update.ref, "ref_protected": False,
            "checkout_sha": None if update.new == ZERO_SHA else update.new, "message": None, "user_id": 1,
            "user_name": pusher, "user_username": pusher, "user_email": f"{pusher}@example.com", "project_id": 1,
            "project": project, "commits": commits, "total_commits_count": len(commits),
            "repository": {"name": project["name"], "url": project["git_ssh_url"], "homepage": web_url,
                           "git_http_url": project["git_http_url"], "git_ssh_url": project["git_ssh_url"],
                           "visibility_level": 0}}


def _gitlab_commit(git_dir: Path, repository: str, sha: str) -> dict[str, Any]:
    facts = commit_facts(git_dir, sha)
    return {"id": sha, "message": facts["message"], "title": facts["message"].splitlines()[0] if facts["message"]
            else "", "timestamp": facts["date"], "url": f"https://gitlab.example.com/{repository}/-/commit/{sha}",
            "author": {"name": facts["author"], "email": facts["author_email"]},
            "added": [], "modified": [], "removed": []}


def gitlab_delivery(payload: dict[str, Any], secret: bytes) -> Delivery:
    delivery_id = str(uuid.uuid4())
    headers = {"Content-Type": "application/json", "User-Agent": "GitLab/17.0.0", "X-Gitlab-Event": "Push Hook",
               "X-Gitlab-Token": secret.decode(), "X-Gitlab-Event-UUID": delivery_id,
               "X-Gitlab-Webhook-UUID": str(uuid.uuid5(uuid.NAMESPACE_URL, "pushdeploy-rig")),
               "X-Gitlab-Instance": "https://gitlab.example.com"}
    return Delivery("gitlab", delivery_id, headers, json.dumps(payload).encode())


# ---------------------------------------------------------------- Bitbucket Cloud


def bitbucket_push(git_dir: Path, repository: str, updates: list[RefUpdate], pusher: str) -> dict[str, Any]:
    return {"push": {"changes": [_bitbucket_change(git_dir, repository, u) for u in updates]},
            "repository": {"type": "repository", "full_name": repository, "name": repository.rsplit("/", 1)[-1],
                           "scm": "git", "is_private": True, "uuid": "{" + str(uuid.uuid5(uuid.NAMESPACE_URL,
                                                                                           repository)) + "}",
                           "links": {"html": {"href": f"https://bitbucket.org/{repository}"}}},
            "actor": {"type": "user", "display_name": pusher, "nickname": pusher,
                      "uuid": "{" + str(uuid.uuid5(uuid.NAMESPACE_DNS, pusher)) + "}"}}


def _bitbucket_change(git_dir: Path, repository: str, update: RefUpdate) -> dict[str, Any]:
    kind = "tag" if update.ref.startswith("refs/tags/") else "branch"
    name = update.ref.split("/", 2)[-1]

    def state(sha: str) -> dict[str, Any] | None:
        if sha == ZERO_SHA:
            return None
        facts = commit_facts(git_dir, sha)
        return {"type": kind, "name": name, "target": {"type": "commit", "hash": sha, "message": facts["message"],
                                                       "date": facts["date"],
                                                       "author": {"raw": f"{facts['author']} "
                                                                         f"<{facts['author_email']}>"}}}

    return {"old": state(update.old), "new": state(update.new), "created": update.old == ZERO_SHA,
            "closed": update.new == ZERO_SHA, "forced": False, "truncated": False}


def bitbucket_delivery(payload: dict[str, Any], secret: bytes) -> Delivery:
    body = json.dumps(payload).encode()
    delivery_id = str(uuid.uuid4())
    headers = {"Content-Type": "application/json", "User-Agent": "Bitbucket-Webhooks/2.0", "X-Event-Key": "repo:push",
               "X-Request-UUID": delivery_id, "X-Hook-UUID": str(uuid.uuid5(uuid.NAMESPACE_URL, "pushdeploy-rig")),
               "X-Attempt-Number": "1", "X-Hub-Signature": hmac_sha256(secret, body)}
    return Delivery("bitbucket", delivery_id, headers, body)


def deliveries(provider: str, git_dir: Path, repository: str, updates: list[RefUpdate], pusher: str,
               secret: bytes) -> list[Delivery]:
    """What ``provider`` sends for one push of ``updates``."""
    if provider == "github":
        return [github_delivery(github_push(git_dir, repository, u, pusher), secret) for u in updates]
    if provider == "gitlab":
        return [gitlab_delivery(gitlab_push(git_dir, repository, u, pusher), secret) for u in updates]
    if provider == "bitbucket":
        return [bitbucket_delivery(bitbucket_push(git_dir, repository, updates, pusher), secret)]
    raise PayloadError(f"unknown provider {provider!r}; expected one of {', '.join(PROVIDERS)}")
