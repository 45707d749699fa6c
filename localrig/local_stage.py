"""The `local` stage: what a shell needs so that `chalice local --stage local` runs against the rig.

The `local` stage in .chalice/config.json names only PUSHDEPLOY_FUNCTIONS and PUSHDEPLOY_API_AUTH:
`chalice local` adds a stage's variables to its own environment and leaves every other one as the
shell set it (chalice/cli/factory.py: ``self._environ.update(environment_variables)``), so the
rig's endpoint, credentials and resource names come from the shell. ``local_exports`` is the one
place that list is made: `python -m localrig up` prints it and writes it as ``local.env``, and
``localrig.chalice_local`` gives it to the `chalice local` child.
"""

from __future__ import annotations

import json
import secrets
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from localrig.provision import PipelineSpec, lambda_environment

if TYPE_CHECKING:
    from localrig.rig import LocalRig

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_STAGE = "local"
PROVIDERS = ("github", "gitlab", "bitbucket")
WEBHOOK_SECRET_PREFIX = "/pushdeploy/webhooks"
DELIVERIES_TABLE = "pushdeploy-webhook-deliveries"
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
    for name, default in (("WEBHOOK_SECRET_PREFIX", WEBHOOK_SECRET_PREFIX), ("WEBHOOK_DELIVERIES_TABLE",
                          DELIVERIES_TABLE), ("AGENT_SETTINGS_PARAMETER", AGENT_SETTINGS_PARAMETER)):
        settings.setdefault(name, outputs.get(name, default))  # the rig's own, unless provisioning named one
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


def ensure_webhook_secrets(ssm: Any, prefix: str = WEBHOOK_SECRET_PREFIX) -> dict[str, str]:
    """One SecureString per provider (``<prefix>/<provider>``), as a user creates them; an existing one is
    kept, so a re-run does not invalidate the webhooks already configured. Returns provider -> name."""
    names = {provider: f"{prefix.rstrip('/')}/{provider}" for provider in PROVIDERS}
    for name in names.values():
        try:
            ssm.put_parameter(Name=name, Value=secrets.token_hex(20), Type="SecureString", Overwrite=False)
        except ssm.exceptions.ParameterAlreadyExists:
            pass
    return names


def ensure_deliveries_table(dynamodb: Any, name: str = DELIVERIES_TABLE) -> str:
    """The webhook routes' seen-deliveries table (key ``delivery_id``, TTL ``expires_at``), unless provisioned."""
    try:
        dynamodb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "delivery_id", "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "delivery_id", "KeyType": "HASH"}])
    except dynamodb.exceptions.ResourceInUseException:
        return name
    dynamodb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    dynamodb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True,
                                                                          "AttributeName": "expires_at"})
    return name


def upload_agent_settings(ssm: Any, text: str, name: str = AGENT_SETTINGS_PARAMETER) -> str:
    """The agent's settings file as `infra record` uploads it, for GET /pipelines."""
    ssm.put_parameter(Name=name, Value=text, Type="String", Overwrite=True, Tier="Intelligent-Tiering")
    return name


def prepare(rig: LocalRig) -> dict[str, str]:
    """Make what the routes read and the rig does not provision for the Lambda host (webhook secrets, the
    deliveries table, the agent settings parameter); return the exports. Safe to call again."""
    exports = local_exports(rig.moto.client_env(), rig.outputs, rig.pipelines, rig.run_dir)
    ensure_webhook_secrets(rig.client("ssm"), exports["WEBHOOK_SECRET_PREFIX"])
    ensure_deliveries_table(rig.client("dynamodb"), exports["WEBHOOK_DELIVERIES_TABLE"])
    upload_agent_settings(rig.client("ssm"), rig.agent_config.read_text(), exports["AGENT_SETTINGS_PARAMETER"])
    return exports


def make_branches(rig: LocalRig) -> None:
    """Each pipeline's branch at the seeded commit, made in the bare repository: no push, so no hook fires and
    nothing builds until a webhook (or a push) asks."""
    for spec in rig.pipelines:
        rig.git(rig.bare[spec.repository], "branch", "--force", spec.branch, "main")
        sha = rig.git(rig.bare[spec.repository], "rev-parse", spec.branch)
        rig.emit("codecommit", f"{spec.repository}: branch {spec.branch} at {sha[:12]} (made without a push)")
