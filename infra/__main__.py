"""``python -m infra``: the commands between `aws cloudformation deploy` and `git push`.

    record                 stack outputs -> .chalice/config.json stage, .chalice/policy-<stage>-*.json,
                           and (pipeline stack) the agent settings file + its SSM parameter
    failure-destinations   after `chalice deploy`: failed async invocations -> the stack's failure queue
    output                 print one stack output (to pass into the other stack's parameters)
    teardown               chalice delete, the agent settings parameter, the stack
    up                     all of the above but teardown, in order, for both stacks: README's Deploy to AWS
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

import boto3

from agent import CommandParser, __version__, report_error
from chalicelib.region import region_from_env
from infra import InfraError, up
from infra.agent_settings import DEFAULT_PATH
from infra.commands import failure_destinations, record
from infra.stack_outputs import read_outputs
from infra.teardown import chalice_delete, delete_agent_settings, delete_stack

log = logging.getLogger("infra")
PROG = "python -m infra"


def _session(args: argparse.Namespace) -> boto3.Session:
    return boto3.Session(profile_name=args.profile, region_name=args.region or region_from_env())


def cmd_record(args: argparse.Namespace) -> int:
    record(_session(args), args.project, args.stack, args.stage, one_account=args.one_account,
           agent_settings=args.agent_settings, upload=not args.no_upload)
    return 0


def cmd_failure_destinations(args: argparse.Namespace) -> int:
    failure_destinations(_session(args), args.project, args.stack, args.stage)
    return 0


def cmd_output(args: argparse.Namespace) -> int:
    outputs = read_outputs(_session(args).client("cloudformation"), args.stack)
    print(outputs.get(args.key))
    return 0


def cmd_teardown(args: argparse.Namespace) -> int:
    session = _session(args)
    outputs = read_outputs(session.client("cloudformation"), args.stack)
    if not args.keep_functions:
        chalice_delete(args.project, args.stage, args.profile, args.region)
    if outputs.kind == "pipeline":
        delete_agent_settings(session.client("ssm"), outputs)
    delete_stack(session.client("cloudformation"), outputs)
    return 0


class InfraParser(CommandParser):
    command_name = PROG


def cmd_up(args: argparse.Namespace) -> int:
    options = up.UpOptions(
        project=args.project, agent_settings=args.agent_settings, one_account=args.one_account,
        pipeline_parameters=_key_values(args.pipeline_parameters, "--pipeline-parameters"),
        source_parameters=_key_values(args.source_parameters, "--source-parameters"),
        pipeline_profile=args.profile, source_profile=args.source_profile, region=args.region,
        pipeline_stack=args.pipeline_stack, source_stack=args.source_stack)
    return up.run(up.plan(options), args.start, up.resume_command(args.argv), dry_run=args.plan)


def _key_values(pairs: Sequence[str], flag: str) -> dict[str, str]:
    bad = [p for p in pairs if "=" not in p]
    if bad:
        raise InfraError(f"{flag}: expected KEY=VALUE, got {', '.join(bad)}")
    return dict(p.split("=", 1) for p in pairs)


def _add_up(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    command = sub.add_parser(
        "up", help="README's Deploy to AWS in one command: both stacks, record, chalice deploy, failure destinations",
        description=up.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    command.add_argument("--pipeline-parameters", nargs="+", default=[], metavar="KEY=VALUE",
                         help="infra/pipeline.yaml parameters (SourceAccountId defaults to the source account; "
                              "with --one-account RequestRoleNames defaults to the stage all's roles)")
    command.add_argument("--source-parameters", nargs="+", default=[], metavar="KEY=VALUE",
                         help="infra/source.yaml parameters (RequestTopicArn and BuilderRoleArn come from the "
                              "pipeline stack)")
    command.add_argument("--profile", help="AWS profile of the pipeline account (and of the one account)")
    command.add_argument("--source-profile", help="AWS profile of the source account (two accounts)")
    command.add_argument("--region", help="region of both stacks (default: AWS_REGION, AWS_DEFAULT_REGION, profile)")
    command.add_argument("--one-account", action="store_true",
                         help="both stacks and the one Chalice stage 'all' in one account (docs/deploy-to-aws.md)")
    command.add_argument("--pipeline-stack", default="pushdeploy-pipeline", help="default: %(default)s")
    command.add_argument("--source-stack", default="pushdeploy-source", help="default: %(default)s")
    command.add_argument("--project", type=Path, default=Path.cwd(),
                         help="project directory holding .chalice/ (default: current directory)")
    command.add_argument("--agent-settings", type=Path, default=Path(DEFAULT_PATH),
                         help=f"agent settings file, relative to --project (default: {DEFAULT_PATH})")
    command.add_argument("--plan", action="store_true",
                         help="print each step as the command it stands for; run nothing")
    command.add_argument("--from", dest="start", metavar="STEP", help="start at this step (resume after a failure)")
    command.set_defaults(func=cmd_up)


def build_parser() -> argparse.ArgumentParser:
    parser = InfraParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--stack", required=True, help="CloudFormation stack name (or id)")
    common.add_argument("--profile", help="AWS profile of the account that holds the stack")
    common.add_argument("--region", help="AWS region of the stack (default: the profile's)")
    staged = argparse.ArgumentParser(add_help=False)
    staged.add_argument("--stage", required=True, help="Chalice stage: prod for the pipeline stack, dev for source")
    staged.add_argument("--project", type=Path, default=Path.cwd(),
                        help="project directory holding .chalice/ (default: current directory)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    record = sub.add_parser("record", parents=[common, staged], help="write stack outputs into the project",
                            description="Write the stack's outputs into the stage's environment_variables in "
                            ".chalice/config.json and the known statements of .chalice/policy-<stage>-*.json; for "
                            "the pipeline stack also the [agent] table of the agent settings file, which is then "
                            "checked and uploaded to the stack's AgentSettingsParameterName.")
    record.add_argument("--agent-settings", type=Path, default=Path(DEFAULT_PATH),
                        help=f"agent settings file, relative to --project (default: {DEFAULT_PATH})")
    record.add_argument("--no-upload", action="store_true", help="write the agent settings file but do not upload it")
    record.add_argument("--one-account", action="store_true",
                        help="this stage serves both sides (PUSHDEPLOY_FUNCTIONS=all); see docs/deploy-to-aws.md")
    record.set_defaults(func=cmd_record)

    failure = sub.add_parser("failure-destinations", parents=[common, staged],
                             help="after chalice deploy: failed async invocations go to the stack's failure queue",
                             description="Read .chalice/deployed/<stage>.json and give every function an on-failure "
                             "destination (the stack's LambdaFailureQueueArn); Chalice-managed roles get an inline "
                             "policy allowing sqs:SendMessage to that queue only.")
    failure.set_defaults(func=cmd_failure_destinations)

    output = sub.add_parser("output", parents=[common], help="print one stack output")
    output.add_argument("key", help="output key, e.g. RequestTopicArn")
    output.set_defaults(func=cmd_output)

    teardown = sub.add_parser("teardown", parents=[common, staged], help="delete a stage's functions and its stack",
                              description="chalice delete --stage STAGE (in --project), delete the agent settings "
                              "parameter (pipeline stack), then delete the stack and wait until it is gone.")
    teardown.add_argument("--keep-functions", action="store_true", help="skip chalice delete")
    teardown.set_defaults(func=cmd_teardown)
    _add_up(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    log.setLevel(logging.INFO)  # our one line per step; botocore stays at WARNING
    args = build_parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if hasattr(args, "project"):
        args.project = args.project.resolve()
    try:
        return args.func(args)
    except InfraError as exc:
        return report_error(str(exc), 2, PROG)


if __name__ == "__main__":
    sys.exit(main())
