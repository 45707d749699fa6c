"""The `local` stage: what a shell needs so that `chalice local --stage local` runs against the rig.

The `local` stage in .chalice/config.json names only PUSHDEPLOY_FUNCTIONS and PUSHDEPLOY_API_AUTH:
`chalice local` adds a stage's variables to its own environment and leaves every other one as the
shell set it (chalice/cli/factory.py: ``self._environ.update(environment_variables)``), so the
rig's endpoint, credentials and resource names come from the shell. ``local_exports`` is the one
place that list is made: `python -m localrig up` prints it and writes it as ``local.env``, and
``localrig.lambdas.chalice_local`` gives it to the `chalice local` child.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localrig.provision import PipelineSpec, lambda_environment

if TYPE_CHECKING:
    from localrig.rig import LocalRig

REPO_ROOT = Path(__file__).resolve().parents[2]
LOCAL_STAGE = "local"
API_PART = "api_handler"  # the function API Gateway invokes for every route: `chalice local` signs as it
WEBHOOK_SECRET_PREFIX = "/pushdeploy/webhooks"  # the routes' default, when a stage does not name one
AGENT_SETTINGS_PARAMETER = "/pushdeploy/agent.toml"  # the pipeline template's default name
RUN_DIR_VARIABLE = "PUSHDEPLOY_RIG_RUN_DIR"  # where `python -m localrig github-payload` finds the rig's repositories
# A profile in the user's shell would be looked up (and fail, or reach a real account) before the exported keys.
UNSET = ("AWS_PROFILE", "AWS_DEFAULT_PROFILE")


def stage_variables(stage: str = LOCAL_STAGE, root: Path = REPO_ROOT) -> dict[str, str]:
    """The environment variables .chalice/config.json sets for ``stage`` (top level, then the stage's)."""
    config = json.loads((root / ".chalice" / "config.json").read_text())
    variables = dict(config.get("environment_variables") or {})
    variables.update(config["stages"][stage].get("environment_variables") or {})
    return variables


def local_exports(aws_env: Mapping[str, str], outputs: Mapping[str, str], pipelines: list[PipelineSpec],
                  run_dir: Path) -> dict[str, str]:
    """Everything `chalice local --stage local` needs from the shell: the AWS endpoint and credentials, and
    every stage setting the app reads that the local stage does not set (those the stage sets win anyway)."""
    settings = lambda_environment(dict(outputs), pipelines)
    # the rig's own agent settings parameter (the stack output is left out: the API-made rig has none)
    settings.setdefault("AGENT_SETTINGS_PARAMETER", outputs.get("AGENT_SETTINGS_PARAMETER", AGENT_SETTINGS_PARAMETER))
    named_by_stage = stage_variables()
    exports = {name: value for name, value in settings.items() if name not in named_by_stage}
    aws = {name: aws_env[name] for name in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                                           "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION")}
    return {**aws, **exports, RUN_DIR_VARIABLE: str(run_dir)}


def env_file_text(exports: Mapping[str, str]) -> str:
    """A file a POSIX shell can ``source``: each value quoted, so JSON (BRANCH_FILTER) survives."""
    lines = ["# written by `python -m localrig up`; source it, then `chalice local --stage local`",
             f"unset {' '.join(UNSET)}"]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in exports.items()]
    return "\n".join(lines) + "\n"


def child_environment(base: Mapping[str, str], exports: Mapping[str, str]) -> dict[str, str]:
    """``base`` as a shell that sourced the env file would have it."""
    env = {name: value for name, value in base.items() if name not in UNSET}
    env.update(exports)
    return env


def upload_agent_settings(ssm: Any, text: str, name: str = AGENT_SETTINGS_PARAMETER) -> str:
    """The agent's settings file as `infra record` uploads it, for GET /pipelines."""
    ssm.put_parameter(Name=name, Value=text, Type="String", Overwrite=True, Tier="Intelligent-Tiering")
    return name


def prepare(rig: LocalRig) -> dict[str, str]:
    """Upload what GET /pipelines reads and the rig's Lambda host does not need (the agent settings; the webhook
    secrets and the deliveries table are provisioned); return the exports. Safe to call again."""
    # the routes run as the api_handler function's role (IAM enforced: its credentials; else the rig's)
    aws = dict(rig.moto.client_env(), **rig.part_env(API_PART))
    exports = local_exports(aws, rig.outputs, rig.pipelines, rig.run_dir)
    upload_agent_settings(rig.client("ssm"), rig.agent_config.read_text(), exports["AGENT_SETTINGS_PARAMETER"])
    return exports


def make_branches(rig: LocalRig) -> None:
    """Each pipeline's branch at the seeded commit, made in the bare repository: no push, so no hook fires and
    nothing builds until a webhook (or a push) asks."""
    for spec in rig.pipelines:
        rig.git(rig.bare[spec.repository], "branch", "--force", spec.branch, "main")
        sha = rig.git(rig.bare[spec.repository], "rev-parse", spec.branch)
        rig.emit("codecommit", f"{spec.repository}: branch {spec.branch} at {sha[:12]} (made without a push)")
