"""GitHub-format push webhooks made from a rig repository, and their ``X-Hub-Signature-256``.

What the README's curl sends and what the rig's git hook sends in story 4: a push event shaped as
GitHub documents it (docs.github.com, "Webhook events and payloads", ``push``), read from a real
bare repository, signed as GitHub signs it: ``sha256=`` + HMAC-SHA256(secret, raw body), hex.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3

from localrig.local_stage import RUN_DIR_VARIABLE, WEBHOOK_SECRET_PREFIX

ZERO_SHA = "0" * 40
DEFAULT_PUSHER = "demo-developer"


class PayloadError(RuntimeError):
    """The repository or branch cannot be read; the message names it."""


def signature(secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header value GitHub sends for ``body``."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


def secret_from_parameter(name: str | None = None, env: Mapping[str, str] = os.environ) -> bytes:
    """The provider's webhook secret from SSM (the SecureString the routes verify with); by default
    ``$WEBHOOK_SECRET_PREFIX/github``, read through the endpoint the env file exports."""
    name = name or f"{env.get('WEBHOOK_SECRET_PREFIX', WEBHOOK_SECRET_PREFIX).rstrip('/')}/github"
    ssm = boto3.client("ssm")
    return ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"].encode()


def secret_from_env(variable: str, env: Mapping[str, str] = os.environ) -> bytes:
    if not env.get(variable):
        raise PayloadError(f"${variable} is not set (or empty)")
    return env[variable].encode()


def repository_dir(repository: str, run_dir: Path | None = None, env: Mapping[str, str] = os.environ) -> Path:
    """The bare repository the rig serves as ``repository`` (run dir from the env file when not given)."""
    if run_dir is None:
        if not env.get(RUN_DIR_VARIABLE):
            raise PayloadError(f"no --run-dir and ${RUN_DIR_VARIABLE} is not set: source the rig's local.env first")
        run_dir = Path(env[RUN_DIR_VARIABLE])
    bare = run_dir / "git" / f"{repository}.git"
    if not bare.is_dir():
        raise PayloadError(f"no repository {repository!r} in the rig at {run_dir} (expected {bare})")
    return bare


def _git(git_dir: Path, *args: str) -> str:
    done = subprocess.run(["git", "--git-dir", str(git_dir), *args], capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        raise PayloadError(f"git {' '.join(args)} in {git_dir}: {done.stderr.strip()}")
    return done.stdout.strip()


def branch_payload(git_dir: Path, repository: str, branch: str, pusher: str = DEFAULT_PUSHER) -> dict[str, Any]:
    """A push of ``branch``'s head, as if its last commit had just been pushed (before = its parent)."""
    after = _git(git_dir, "rev-parse", "--verify", f"refs/heads/{branch}^{{commit}}")
    parents = _git(git_dir, "rev-list", "--parents", "-n", "1", after).split()[1:]
    return push_payload(git_dir, repository, f"refs/heads/{branch}", parents[0] if parents else ZERO_SHA, after,
                        pusher)


def push_payload(git_dir: Path, repository: str, ref: str, before: str, after: str,
                 pusher: str = DEFAULT_PUSHER) -> dict[str, Any]:
    """The ``push`` event for one ref update (``repository`` is the full name, ``owner/name`` or a bare name)."""
    deleted, created = after == ZERO_SHA, before == ZERO_SHA
    head = None if deleted else _commit(git_dir, repository, after)
    owner = repository.split("/")[0] if "/" in repository else pusher
    return {
        "ref": ref, "before": before, "after": after, "created": created, "deleted": deleted, "forced": False,
        "base_ref": None, "compare": f"https://github.com/{repository}/compare/{before[:12]}...{after[:12]}",
        "commits": [head] if head else [], "head_commit": head,
        "repository": {"name": repository.rsplit("/", 1)[-1], "full_name": repository, "private": True,
                       "owner": {"name": owner, "login": owner}, "default_branch": "main",
                       "clone_url": f"file://{git_dir}", "html_url": f"https://github.com/{repository}"},
        "pusher": {"name": pusher, "email": f"{pusher}@example.com"},
        "sender": {"login": pusher, "type": "User"},
    }


def _commit(git_dir: Path, repository: str, sha: str) -> dict[str, Any]:
    fields = _git(git_dir, "show", "-s", "--format=%T%x00%an%x00%ae%x00%cn%x00%ce%x00%cI%x00%B", sha).split("\0")
    tree, author, author_email, committer, committer_email, when, message = fields
    return {"id": sha, "tree_id": tree, "distinct": True, "message": message.strip(), "timestamp": when,
            "url": f"https://github.com/{repository}/commit/{sha}",
            "author": {"name": author, "email": author_email},
            "committer": {"name": committer, "email": committer_email},
            "added": [], "removed": [], "modified": []}
