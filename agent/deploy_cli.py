"""The deploy, rollback and diff subcommands, for a person at the console.

agent/cli.py calls ``register(subparsers)``; each subcommand stores its handler as
``args.func(args) -> int`` (exit status). Progress goes to stdout one line per step with the
elapsed time; a failure ends with one line on stderr saying why, and a non-zero status:
1 failed, 3 rolled back (the service runs what it ran before), 2 bad usage (argparse).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from agent import report_error
from agent.aws import ecs_client
from agent.config import ConfigError, load_config
from agent.docker.imageref import ImageRefError, parse_image
from agent.ecs.api import DeployError
from agent.ecs.deploy import DeployTarget, deploy_image, diff_task_definition, rollback_service
from agent.progress import Progress
from chalicelib.region import region_from_env

EXIT_FAILED = 1
EXIT_ROLLED_BACK = 3


def progress_log(clock: Callable[[], float] = time.monotonic) -> Callable[[str], None]:
    """One line per step with the seconds since the command started (the agent's Progress format)."""
    return Progress(clock=clock).line


def _fail(reason: str, status: int = EXIT_FAILED) -> int:
    return report_error(reason, status)


def _region(args: argparse.Namespace) -> str | None:
    """--region, else the environment, else the agent's settings file when there is one (on the builder)."""
    explicit = args.deploy_region or region_from_env()
    if explicit:
        return explicit
    path = getattr(args, "config", None)
    if path and Path(path).is_file():
        return load_config(path).agent.region
    return None


def _repository(args: argparse.Namespace) -> str:
    return args.repository or parse_image(args.image).repository


def _target(args: argparse.Namespace) -> DeployTarget:
    return DeployTarget(args.cluster, tuple(args.service), tuple(args.container or ()))


def _cmd_deploy(args: argparse.Namespace) -> int:
    log = progress_log()
    try:
        repository = _repository(args)
        client = ecs_client(_region(args))
    except (ImageRefError, DeployError, ConfigError) as exc:
        return _fail(str(exc))
    report = deploy_image(client, [_target(args)], args.image, repository, wait_timeout=args.timeout,
                          keep_revisions=args.keep_revisions, log=log, dry_run=args.dry_run)
    if args.dry_run and report.outcome == "succeeded":
        print(diff_task_definition(client, _target(args), args.image, repository), end="")
    if report.outcome == "succeeded":
        return 0
    status = EXIT_ROLLED_BACK if report.outcome == "rolled_back" else EXIT_FAILED
    return _fail(f"deploy {report.outcome}: {report.error}", status)


def _cmd_rollback(args: argparse.Namespace) -> int:
    log = progress_log()
    try:
        rollback_service(ecs_client(_region(args)), args.cluster, args.service, to=args.to,
                         wait_timeout=args.timeout, log=log)
    except (DeployError, ConfigError) as exc:
        return _fail(f"rollback failed: {exc}")
    return 0


def _cmd_diff(args: argparse.Namespace) -> int:
    try:
        text = diff_task_definition(ecs_client(_region(args)), _target(args), args.image, _repository(args))
    except (DeployError, ImageRefError, ConfigError) as exc:
        return _fail(str(exc))
    print(text, end="")
    return 0


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 (0 keeps every revision), got {value}")
    return value


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cluster", required=True, help="ECS cluster name or ARN")
    parser.add_argument("--region", dest="deploy_region", default=None, metavar="REGION",
                        help="AWS region (default: the AWS_REGION / AWS_DEFAULT_REGION environment)")


def _image_args(parser: argparse.ArgumentParser, service_help: str) -> None:
    parser.add_argument("--service", action="append", required=True, metavar="NAME", help=service_help)
    parser.add_argument("--image", required=True,
                        help="full image reference, e.g. 111122223333.dkr.ecr.ap-northeast-1.amazonaws.com/"
                             "production/sample:20261126120000-abc1234 (a @sha256: digest is kept)")
    parser.add_argument("--container", action="append", metavar="NAME",
                        help="container that takes the image (repeatable); default: every container whose "
                             "image comes from the same registry and repository as --image")
    parser.add_argument("--repository", default=None, metavar="PATH",
                        help="repository path the target containers run, e.g. production/sample "
                             "(default: the repository of --image)")


def register(subparsers: argparse._SubParsersAction,
             parents: Sequence[argparse.ArgumentParser] = ()) -> None:
    """Add the deploy, rollback and diff subcommands to the agent's CLI; ``parents`` adds the options every
    subcommand takes after its name (``--config``), as docs/agent.md promises."""
    deploy = subparsers.add_parser(
        "deploy", parents=list(parents),
        help="put an existing image on ECS services and wait until it runs (rolls back on failure)",
        description="Copy the task definition each service runs now, change only the target containers' image, "
                    "register it, update the services and wait until the new revision is PRIMARY, COMPLETED "
                    "and running == desired. On failure or timeout every updated service is rolled back.")
    _common(deploy)
    _image_args(deploy, "service to deploy to (repeat for several services in the cluster)")
    deploy.add_argument("--timeout", type=float, default=900, metavar="SECONDS",
                        help="seconds to wait for the rollout (default 900)")
    deploy.add_argument("--keep-revisions", type=_non_negative, default=10, metavar="N",
                        help="ACTIVE revisions to keep per family after a deploy; 0 keeps all (default 10)")
    deploy.add_argument("--dry-run", action="store_true", help="show the plan and the diff; change nothing")
    deploy.set_defaults(func=_cmd_deploy)

    rollback = subparsers.add_parser(
        "rollback", parents=list(parents), help="put a service back on its previous (or a named) revision and wait",
        description="Update the service to --to (default: the newest ACTIVE revision of its family older than "
                    "the one it runs) and wait until that revision is PRIMARY, COMPLETED and running == desired.")
    _common(rollback)
    rollback.add_argument("--service", required=True, help="service to roll back")
    rollback.add_argument("--to", default=None, metavar="FAMILY:REVISION",
                          help="family:revision or task-definition ARN to go to")
    rollback.add_argument("--timeout", type=float, default=900, metavar="SECONDS", help="seconds to wait (default 900)")
    rollback.set_defaults(func=_cmd_rollback)

    diff = subparsers.add_parser(
        "diff", parents=list(parents),
        help="show what deploying an image would change in the task definitions; change nothing",
        description="Print a unified diff between each service's current task definition and the revision a "
                    "deploy of --image would register.")
    _common(diff)
    _image_args(diff, "service whose task definition to compare (repeat for several services in the cluster)")
    diff.set_defaults(func=_cmd_diff)
