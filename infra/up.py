"""``python -m infra up``: README's "Deploy to AWS" in one command, for the two-account and the one-account
layouts. It runs the steps a person ran by hand, in the order they depend on each other (a stack's outputs
feed the record, the record feeds chalice deploy, the deploy feeds the failure destinations, the pipeline
stack's outputs feed the source stack). Every step converges on a re-run: a stack is created, updated or
"no changes", record rewrites the same values, chalice deploy updates what it made. The first failure stops
the run with what to fix and the ``--from STEP`` that resumes it; ``--plan`` prints each step as the command a
person would type, and runs nothing.
"""

from __future__ import annotations

import json
import logging
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.region import region_from_env
from infra import InfraError, ProjectFileError, StackError
from infra.commands import failure_destinations, record
from infra.stack_outputs import read_outputs
from infra.stacks import PIPELINE_TEMPLATE, SOURCE_TEMPLATE, deploy_stack
from infra.stage_settings import write_atomically

log = logging.getLogger("infra.up")

CHALICE_TIMEOUT_SECONDS = 1800
ONE_ACCOUNT_STAGE = "all"
# Chalice names a stage's roles APP-STAGE-FUNCTION: in one account the pipeline stack must let these publish
ONE_ACCOUNT_REQUEST_ROLES = "pushdeploy-all-request,pushdeploy-all-request_events"


@dataclass(frozen=True)
class UpOptions:
    project: Path
    agent_settings: Path
    pipeline_parameters: Mapping[str, str]
    source_parameters: Mapping[str, str]
    one_account: bool = False
    pipeline_profile: str | None = None
    source_profile: str | None = None
    region: str | None = None
    pipeline_stack: str = "pushdeploy-pipeline"
    source_stack: str = "pushdeploy-source"


@dataclass(frozen=True)
class Step:
    name: str
    command: str          # what a person would type for it (the --plan line)
    run: Callable[[], str]  # returns a one-line outcome


@dataclass
class _Sides:
    """One boto3 session per account, made on first use (``--plan`` never makes one)."""

    options: UpOptions
    _sessions: dict[str, boto3.Session] = field(default_factory=dict)

    def session(self, side: str) -> boto3.Session:
        if side not in self._sessions:
            profile = self.profile(side)
            try:
                made = boto3.Session(profile_name=profile, region_name=self.options.region or region_from_env())
            except BotoCoreError as exc:
                raise InfraError(f"profile {profile}: {exc}") from exc
            if not made.region_name:
                raise InfraError("no region: pass --region, export AWS_REGION, or give the profile a region")
            self._sessions[side] = made
        return self._sessions[side]

    def profile(self, side: str) -> str | None:
        if side == "source" and not self.options.one_account:
            return self.options.source_profile
        return self.options.pipeline_profile

    def account(self, side: str) -> str:
        try:
            return self.session(side).client("sts").get_caller_identity()["Account"]
        except (BotoCoreError, ClientError) as exc:
            raise InfraError(f"{side} account: cannot read the caller identity: {exc}") from exc


def plan(options: UpOptions) -> list[Step]:
    """The steps in order: two accounts = 8 (stack, record, chalice deploy, failure destinations per side);
    one account = 7 (the stage ``all`` first, one chalice deploy and one failure-destinations run)."""
    sides = _Sides(options)
    if options.one_account:
        stage = ONE_ACCOUNT_STAGE
        return [_all_stage_step(options), _pipeline_stack_step(sides), _record_step(sides, "pipeline", stage),
                _source_stack_step(sides), _record_step(sides, "source", stage),
                _chalice_step(sides, "pipeline", stage), _failures_step(sides, "pipeline", stage)]
    return [_pipeline_stack_step(sides), _record_step(sides, "pipeline", "prod"),
            _chalice_step(sides, "pipeline", "prod"), _failures_step(sides, "pipeline", "prod"),
            _source_stack_step(sides), _record_step(sides, "source", "dev"), _chalice_step(sides, "source", "dev"),
            _failures_step(sides, "source", "dev")]


def run(steps: Sequence[Step], start: str | None, resume: Callable[[str], str], dry_run: bool = False) -> int:
    """Run (or with ``dry_run`` print) the steps from ``start``; stop at the first failure saying how to resume."""
    names = [s.name for s in steps]
    if start is not None and start not in names:
        raise InfraError(f"--from {start}: no such step; the steps are: {', '.join(names)}")
    todo = steps[names.index(start):] if start else steps
    for step in todo:
        where = f"step {names.index(step.name) + 1}/{len(steps)} {step.name}"
        if dry_run:
            print(f"{where}: {step.command}", flush=True)
            continue
        log.info("%s: %s", where, step.command)
        try:
            outcome = step.run()
        except InfraError as exc:
            raise InfraError(f"{where} failed: {exc}\nfix that, then resume with: {resume(step.name)}") from exc
        log.info("%s: %s", where, outcome)
    return 0


def resume_command(argv: Sequence[str]) -> Callable[[str], str]:
    """The command line that resumes at a step: the same arguments with ``--from STEP`` instead of any given."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--from":
            skip = True
        elif not arg.startswith("--from="):
            kept.append(arg)
    return lambda step: shlex.join(["python", "-m", "infra", *kept, "--from", step])


# ---------------------------------------------------------------- steps


def _flag(name: str, value: str | None) -> list[str]:
    return [name, value] if value else []


def _pipeline_parameters(sides: _Sides) -> dict[str, str]:
    wanted = dict(sides.options.pipeline_parameters)
    if "SourceAccountId" not in wanted:
        wanted["SourceAccountId"] = sides.account("source")
    if sides.options.one_account:
        wanted.setdefault("RequestRoleNames", ONE_ACCOUNT_REQUEST_ROLES)
    return wanted


def _source_parameters(sides: _Sides) -> dict[str, str]:
    cfn = sides.session("pipeline").client("cloudformation")
    outputs = read_outputs(cfn, sides.options.pipeline_stack)
    return {"RequestTopicArn": outputs.get("RequestTopicArn"), "BuilderRoleArn": outputs.get("BuilderRoleArn"),
            **sides.options.source_parameters}


def _deploy_command(sides: _Sides, side: str, stack: str, template: Path, shown: Mapping[str, str]) -> str:
    argv = ["aws", "cloudformation", "deploy", *_flag("--profile", sides.profile(side)), "--stack-name", stack,
            "--template-file", f"infra/{template.name}", "--capabilities", "CAPABILITY_NAMED_IAM",
            "--parameter-overrides", *(f"{k}={v}" for k, v in shown.items())]
    return shlex.join(argv)


def _pipeline_stack_step(sides: _Sides) -> Step:
    options = sides.options
    shown = dict(options.pipeline_parameters)
    if "SourceAccountId" not in shown:
        shown["SourceAccountId"] = f"<account of {'profile ' + (sides.profile('source') or 'default')}>"
    if options.one_account:
        shown.setdefault("RequestRoleNames", ONE_ACCOUNT_REQUEST_ROLES)

    def go() -> str:
        cfn = sides.session("pipeline").client("cloudformation")
        what, _ = deploy_stack(cfn, options.pipeline_stack, PIPELINE_TEMPLATE, _pipeline_parameters(sides))
        return f"stack {options.pipeline_stack}: {what}"

    return Step("pipeline-stack", _deploy_command(sides, "pipeline", options.pipeline_stack, PIPELINE_TEMPLATE, shown),
                go)


def _source_stack_step(sides: _Sides) -> Step:
    options = sides.options
    pipeline = options.pipeline_stack
    shown = {"RequestTopicArn": f"<output RequestTopicArn of {pipeline}>",
             "BuilderRoleArn": f"<output BuilderRoleArn of {pipeline}>", **options.source_parameters}

    def go() -> str:
        cfn = sides.session("source").client("cloudformation")
        what, _ = deploy_stack(cfn, options.source_stack, SOURCE_TEMPLATE, _source_parameters(sides))
        return f"stack {options.source_stack}: {what}"

    return Step("source-stack", _deploy_command(sides, "source", options.source_stack, SOURCE_TEMPLATE, shown), go)


def _stack_of(sides: _Sides, side: str) -> str:
    return sides.options.pipeline_stack if side == "pipeline" else sides.options.source_stack


def _record_step(sides: _Sides, side: str, stage: str) -> Step:
    options, stack = sides.options, _stack_of(sides, side)
    argv = ["python", "-m", "infra", "record", *_flag("--profile", sides.profile(side)), "--stack", stack,
            "--stage", stage, *(["--one-account"] if options.one_account else [])]

    def go() -> str:
        record(sides.session(side), options.project, stack, stage, one_account=options.one_account,
               agent_settings=options.agent_settings)
        return f"recorded {stack} into stage {stage}"

    return Step(f"record-{side}", shlex.join(argv), go)


def _chalice_step(sides: _Sides, side: str, stage: str) -> Step:
    profile = sides.profile(side)
    shown = (f"AWS_PROFILE={shlex.quote(profile)} " if profile else "") + f"chalice deploy --stage {stage}"

    def go() -> str:
        env = dict(os.environ, AWS_DEFAULT_REGION=sides.session(side).region_name)  # chalice reads only this one
        if profile:
            env["AWS_PROFILE"] = profile
        return chalice_deploy(sides.options.project, stage, env)

    return Step(f"chalice-{stage}", shown, go)


def _failures_step(sides: _Sides, side: str, stage: str) -> Step:
    stack = _stack_of(sides, side)
    argv = ["python", "-m", "infra", "failure-destinations", *_flag("--profile", sides.profile(side)),
            "--stack", stack, "--stage", stage]

    def go() -> str:
        failure_destinations(sides.session(side), sides.options.project, stack, stage)
        return f"stage {stage}: failed async invocations go to the failure queue of {stack}"

    return Step(f"failure-destinations-{stage}", shlex.join(argv), go)


def _all_stage_step(options: UpOptions) -> Step:
    def go() -> str:
        made = write_all_stage(options.project)
        return f"stage {ONE_ACCOUNT_STAGE}: " + (f"wrote {', '.join(made)}" if made else "already there")

    return Step("all-stage", f"(docs/deploy-to-aws.md, One account) stage {ONE_ACCOUNT_STAGE} in .chalice/config.json "
                "from dev + prod, with policy-all-*.json", go)


# ---------------------------------------------------------------- project files


def write_all_stage(project: Path) -> list[str]:
    """Stage ``all`` = every function of dev and prod, each with a copy of its policy file; only what is missing
    is written, so a re-run (and the resources record put into the copies) leaves it alone."""
    chalice = project / ".chalice"
    config_path = chalice / "config.json"
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ProjectFileError(f"{config_path}: {exc}") from exc
    stages = config.get("stages", {})
    functions: dict[str, dict[str, object]] = {}
    written = []
    for stage in ("dev", "prod"):
        for name, settings in stages.get(stage, {}).get("lambda_functions", {}).items():
            target = chalice / f"policy-{ONE_ACCOUNT_STAGE}-{name}.json"
            if not target.exists():
                text = (chalice / settings["iam_policy_file"]).read_text(encoding="utf-8")
                write_atomically(target, text.replace(f"pushdeploy-{stage}-", f"pushdeploy-{ONE_ACCOUNT_STAGE}-"))
                written.append(target.name)
            functions[name] = {**settings, "iam_policy_file": target.name}
    stage_config = stages.setdefault(ONE_ACCOUNT_STAGE, {})
    if stage_config.get("lambda_functions") != functions:
        stage_config["lambda_functions"] = functions
        write_atomically(config_path, json.dumps(config, indent=2) + "\n")
        written.append(f"{config_path.name} stages.{ONE_ACCOUNT_STAGE}")
    return written


def chalice_deploy(project: Path, stage: str, env: dict[str, str]) -> str:
    """``chalice deploy --stage`` in the project; its own output is kept for the error when it fails."""
    chalice = Path(sys.executable).with_name("chalice")
    argv = [str(chalice) if chalice.exists() else "chalice", "deploy", "--stage", stage]
    try:
        done = subprocess.run(argv, cwd=project, env=env, capture_output=True, text=True,
                              timeout=CHALICE_TIMEOUT_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StackError(f"chalice deploy --stage {stage}: {exc}") from exc
    if done.returncode != 0:
        tail = "\n  ".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise StackError(f"chalice deploy --stage {stage} exited {done.returncode}:\n  {tail}")
    deployed = project / ".chalice" / "deployed" / f"{stage}.json"
    try:
        resources = json.loads(deployed.read_text(encoding="utf-8")).get("resources", [])
    except (OSError, json.JSONDecodeError):
        resources = []
    functions = sum(1 for r in resources if r.get("resource_type") == "lambda_function")
    return f"chalice deploy --stage {stage}: {functions} function(s) in {deployed.relative_to(project)}"
