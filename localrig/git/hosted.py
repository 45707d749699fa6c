"""Move a rig repository to a hosted provider (GitHub, GitLab or Bitbucket), as a team that leaves CodeCommit does.

After ``host(rig, spec, provider)``:
- the repository is served over authenticated smart HTTP (localrig.git.git_http: the real
  ``git http-backend``, a token required), the developer's clone pushes there with that token;
- the token is an SSM SecureString under the builder's ``GitSecretPrefix`` (``/pushdeploy/git/``) and the
  agent's pipeline reads it through ``source_token = "ssm:..."`` from an ``http://`` source URL;
- the provider's webhook points at the real `chalice local` server (started if it is not running), with
  the provider's secret from ``WEBHOOK_SECRET_PREFIX``: each push sends the provider's push deliveries
  (localrig.git.webhook_hook), which the routes turn into build requests.
The CodeCommit trigger of that repository is gone (its hook is replaced), so a push builds only through the
webhook.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from pathlib import Path

from localrig.git import git_http, webhook_hook
from localrig.provision import PipelineSpec
from localrig.rig import LocalRig

GIT_SECRET_PREFIX = "/pushdeploy/git/"
DEVELOPER = "demo-developer"  # the Basic-auth user the developer pushes as; the server hands it to the hook


@dataclass(frozen=True)
class Hosted:
    provider: str
    clone_url: str
    token_parameter: str
    webhook_url: str
    bare: Path


def host(rig: LocalRig, spec: PipelineSpec, provider: str) -> Hosted:
    """Serve ``spec``'s repository from the rig's git server and send ``provider``'s webhook on every push."""
    server = _git_server(rig)
    token = rig.client("ssm").get_parameter(Name=_token_parameter(), WithDecryption=True)["Parameter"]["Value"]
    clone_url = f"{server.url}/{spec.repository}.git"
    rig.source_settings[spec.repository] = {"source_url": clone_url, "source_token": f"ssm:{_token_parameter()}"}
    rig.write_agent_settings()
    exports = rig.local_exports()  # also uploads the agent settings GET /pipelines reads
    base_url = rig.chalice_local.url if rig.chalice_local is not None else rig.start_chalice_local()
    webhook_url = f"{base_url}/webhooks/{provider}"
    secret_name = f"{exports['WEBHOOK_SECRET_PREFIX'].rstrip('/')}/{provider}"
    secret = rig.client("ssm").get_parameter(Name=secret_name, WithDecryption=True)["Parameter"]["Value"]
    bare = rig.bare[spec.repository]
    webhook_hook.install(bare, webhook_hook.WebhookConfig(provider, webhook_url, secret, spec.repository))
    work = rig.work[spec.repository]
    rig.git(work, "remote", "set-url", "origin", clone_url)
    rig.git_env[work] = _credentials(clone_url, token)
    rig.hosts[spec.repository] = provider
    rig.emit(provider, f"{spec.repository} hosted at {clone_url} (token {_token_parameter()}); push webhook -> "
             f"{webhook_url}")
    return Hosted(provider, clone_url, _token_parameter(), webhook_url, bare)


def _token_parameter() -> str:
    return f"{GIT_SECRET_PREFIX}token"


def _git_server(rig: LocalRig) -> git_http.GitHttpServer:
    """One server for the rig's repositories (``<run dir>/git``), its token made once and kept in SSM."""
    if rig.git_http is not None:
        return rig.git_http
    token = secrets.token_urlsafe(24)
    rig.client("ssm").put_parameter(Name=_token_parameter(), Value=token, Type="SecureString", Overwrite=True)
    server = git_http.start(rig.run_dir / "git", token, log_path=rig.run_dir / "git-http.log")
    rig._parts.add(server)
    rig.git_http = server
    rig.emit("git", f"authenticated smart-HTTP git server at {server.url} (git http-backend, token required)")
    return server


def _credentials(clone_url: str, token: str) -> dict[str, str]:
    """The developer's credentials for the server as git configuration in the environment (not argv, not
    the remote URL): an Authorization header for that URL only."""
    basic = base64.b64encode(f"{DEVELOPER}:{token}".encode()).decode()
    return {"GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": f"http.{clone_url}.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Basic {basic}"}

