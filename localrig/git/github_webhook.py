"""The README's curl helpers: a GitHub push event for a rig branch's head, and its ``X-Hub-Signature-256``.

The payload is the one the rig's git hook sends (localrig.git.webhook_payloads), here for a branch as it
stands; the signature is GitHub's: ``sha256=`` + HMAC-SHA256(secret, raw body), hex.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import boto3

from chalicelib.region import region_from_env
from localrig.git.webhook_payloads import PayloadError, branch_update, github_push, hmac_sha256
from localrig.lambdas.local_stage import RUN_DIR_VARIABLE, WEBHOOK_SECRET_PREFIX

DEFAULT_PUSHER = "demo-developer"


def signature(secret: bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header value GitHub sends for ``body``."""
    return hmac_sha256(secret, body)


def secret_from_parameter(name: str | None = None, env: Mapping[str, str] = os.environ) -> bytes:
    """The provider's webhook secret from SSM (the SecureString the routes verify with); by default
    ``$WEBHOOK_SECRET_PREFIX/github``, read through the endpoint the env file exports."""
    name = name or f"{env.get('WEBHOOK_SECRET_PREFIX', WEBHOOK_SECRET_PREFIX).rstrip('/')}/github"
    ssm = boto3.client("ssm", region_name=region_from_env(env))
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


def branch_payload(git_dir: Path, repository: str, branch: str, pusher: str = DEFAULT_PUSHER) -> dict[str, Any]:
    """A push of ``branch``'s head, as if its last commit had just been pushed."""
    return github_push(git_dir, repository, branch_update(git_dir, branch), pusher)
