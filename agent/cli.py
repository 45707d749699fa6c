"""``pushdeploy-agent`` (also ``python -m agent``): run, build, end-of-run, and the deploy, rollback and
diff subcommands from agent.deploy_cli.

Every command prints one progress line per step with the elapsed time, and on failure exits
non-zero with a one-line reason on stderr (1 failed, 3 rolled back, 2 bad usage).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from botocore.exceptions import BotoCoreError, ClientError

from agent import AgentError, deploy_cli
from agent.aws import IMDS_URL, instance_id_from_imds, make_clients
from agent.builder import BuildContext, build_pipeline
from agent.config import Config, default_path, load_config
from agent.deploy_cli import EXIT_FAILED, EXIT_ROLLED_BACK
from agent.progress import Progress
from agent.results import Publisher
from agent.runner import Runner, install_sigterm
from chalicelib.contracts import ContractError

ENV_IMDS_URL = "PUSHDEPLOY_IMDS_URL"


def _fail(reason: str, status: int = EXIT_FAILED) -> int:
    print(f"pushdeploy-agent: error: {reason}", file=sys.stderr, flush=True)
    return status


def _instance_id(config: Config, progress: Progress) -> str | None:
    if config.agent.instance_id:
        return config.agent.instance_id
    with progress.step("instance-id", source="IMDSv2") as ids:
        found = instance_id_from_imds(os.environ.get(ENV_IMDS_URL) or IMDS_URL)
        ids["instance"] = found or "unknown (not on EC2): EndOfRun names no instance"
    return found


def _context(args: argparse.Namespace, progress: Progress) -> BuildContext:
    with progress.step("config", file=args.config) as ids:
        config = load_config(args.config)
        ids["pipelines"] = ",".join(p.id for p in config.pipelines)
    return BuildContext(config, make_clients(config.agent.region), progress,
                        instance_id=_instance_id(config, progress))


def cmd_run(args: argparse.Namespace) -> int:
    progress = Progress()
    install_sigterm()
    runner = Runner(_context(args, progress))
    stats = runner.run(exit_when_idle=args.exit_when_idle)
    progress.line(f"run finished: {stats.rounds} round(s), {stats.builds} build(s), "
                  f"{stats.end_of_runs} end-of-run message(s)")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    progress = Progress()
    ctx = _context(args, progress)
    pipeline = ctx.config.pipeline(args.pipeline)
    result = build_pipeline(ctx, pipeline, commit=args.commit, dry_run=args.dry_run)
    if not (args.dry_run or args.no_publish):
        with progress.step("publish", topic=ctx.config.agent.close_topic_arn, outcome=result.outcome):
            Publisher(ctx.clients.sns, ctx.config.agent.close_topic_arn).publish(result)
    if result.outcome in ("succeeded", "skipped"):
        return 0
    status = EXIT_ROLLED_BACK if result.outcome == "rolled_back" else EXIT_FAILED
    return _fail(f"build {pipeline.id} {result.outcome}: {result.error}", status)


def cmd_end_of_run(args: argparse.Namespace) -> int:
    service_result = os.environ.get("SERVICE_RESULT", "")
    if args.if_service_failed and service_result in ("", "success"):
        print(f"end-of-run not sent: the agent service ended normally (SERVICE_RESULT={service_result or 'unset'})")
        return 0
    progress = Progress()
    with progress.step("config", file=args.config):
        config = load_config(args.config)
    instance = _instance_id(config, progress)
    reason = args.reason or (f"agent service ended: {service_result}" if service_result else "sent by hand")
    # Past the check above, --if-service-failed means the agent died and systemd will not restart it
    # (Restart=no): close must stop the builder even with requests queued, or nothing would ever serve them.
    exited = bool(args.if_service_failed)
    with progress.step("end-of-run", topic=config.agent.close_topic_arn, instance=instance, reason=repr(reason),
                       agent_exited=str(exited).lower()):
        Publisher(make_clients(config.agent.region).sns, config.agent.close_topic_arn).end_of_run(
            instance, reason, agent_exited=exited)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pushdeploy-agent",
        description="pushdeploy builder agent: builds queued pipelines, pushes images, deploys them to ECS.")
    config_help = "settings file (default: $PUSHDEPLOY_CONFIG or /etc/pushdeploy/agent.toml)"
    parser.add_argument("--config", default=default_path(), help=config_help)
    with_config = argparse.ArgumentParser(add_help=False)
    with_config.add_argument("--config", default=argparse.SUPPRESS, help=config_help)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", parents=[with_config], help="serve the build queue (the boot job)",
                         description="Drain the build queue, build and deploy every requested pipeline once per "
                                     "round, publish each result; when the queue stays empty for idle_grace_seconds, "
                                     "publish EndOfRun and keep serving the queue until the machine stops.")
    run.add_argument("--exit-when-idle", action="store_true",
                     help="exit after publishing EndOfRun (local rig and tests)")
    run.set_defaults(func=cmd_run)

    build = sub.add_parser("build", parents=[with_config], help="build (push, deploy) one pipeline without the queue",
                           description="Fetch the pipeline's branch, build the head (or --commit), push, deploy, "
                                       "and publish the result to the close topic.")
    build.add_argument("--pipeline", required=True, metavar="REPO/BRANCH", help="pipeline id, e.g. sample/production")
    build.add_argument("--commit", default=None, metavar="SHA", help="a commit on the branch (default: its head)")
    build.add_argument("--dry-run", action="store_true",
                       help="build locally and show the deploy plan; push, deploy and publish nothing")
    build.add_argument("--no-publish", action="store_true", help="do not publish the result to the close topic")
    build.set_defaults(func=cmd_build)

    end = sub.add_parser("end-of-run", parents=[with_config], help="publish EndOfRun (stop the builder)",
                         description="Publish an EndOfRun message to the close topic. The systemd unit runs it "
                                     "with --if-service-failed after the agent exits, so a crashed agent never "
                                     "leaves the builder running.")
    end.add_argument("--reason", default=None, help="reason to put in the message")
    end.add_argument("--if-service-failed", action="store_true",
                     help="send only when systemd's $SERVICE_RESULT says the agent did not end normally; the "
                          "message then says the agent exited, so the builder is stopped even with requests queued")
    end.set_defaults(func=cmd_end_of_run)

    deploy_cli.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (AgentError, ContractError) as exc:
        return _fail(str(exc))
    except (BotoCoreError, ClientError) as exc:
        return _fail(f"AWS: {exc}")
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
