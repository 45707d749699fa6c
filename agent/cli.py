"""``pushdeploy-agent`` (also ``python -m agent``): run, build, end-of-run, and the deploy, rollback and
diff subcommands from agent.deploy_cli.

Every command prints one progress line per step with the elapsed time, and on failure exits
non-zero with a one-line reason on stderr (1 failed, 3 rolled back, 2 bad usage, 4 ``run`` stopped
and already published its own EndOfRun saying so, so the systemd stop hook sends none).

``run`` and ``end-of-run`` must be able to ask for the builder to be stopped even when the settings
file is what failed (first boot before the SSM parameter exists, a parameter edited by hand): they
then take the close topic and region from the environment (/etc/pushdeploy/agent.env, written by
the template's user data) and the instance id from IMDS.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence

from botocore.exceptions import BotoCoreError, ClientError

from agent import PROG, AgentError, CommandParser, __version__, deploy_cli, history_cli, report_error
from agent.aws import IMDS_URL, instance_id_from_imds, make_clients
from agent.builder import BuildContext, build_pipeline
from agent.config import ENV_FILE_KEYS, Config, default_path, load_config
from agent.deploy_cli import EXIT_FAILED, EXIT_ROLLED_BACK
from agent.ecs.journal import DeployJournal
from agent.progress import Progress
from agent.queue.results import Publisher
from agent.retry import Backoff
from agent.runner import Runner, install_sigterm
from chalicelib.contracts import ContractError
from chalicelib.region import region_from_env

ENV_IMDS_URL = "PUSHDEPLOY_IMDS_URL"
ENV_CLOSE_TOPIC, ENV_REGION = ENV_FILE_KEYS  # from /etc/pushdeploy/agent.env
EXIT_END_OF_RUN_SENT = 4


def _fail(reason: str, status: int = EXIT_FAILED) -> int:
    return report_error(reason, status)


def _instance_id(config: Config | None, progress: Progress) -> str | None:
    if config is not None and config.agent.instance_id:
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
    progress = Progress(wall=time.time)
    install_sigterm()
    try:
        runner = Runner(_context(args, progress))
    except Exception as exc:  # noqa: BLE001 - whatever stops the start, the builder must be asked to stop
        return _exit_reported(progress, f"agent could not start: {_one_line(exc)}")
    try:
        stats = runner.run(exit_when_idle=args.exit_when_idle)
    except Exception as exc:
        if runner.stats.exit_reported:
            return _fail(f"{_one_line(exc)} (end-of-run sent)", EXIT_END_OF_RUN_SENT)
        raise
    progress.line(f"run finished: {stats.rounds} round(s), {stats.builds} build(s), "
                  f"{stats.end_of_runs} end-of-run message(s)")
    return 0


def _one_line(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, AgentError) else text


def _exit_reported(progress: Progress, reason: str) -> int:
    """``run`` failed before serving: publish its crash EndOfRun from the environment; exit 4 if it went out."""
    progress.line(f"run: {reason}")
    try:
        _publish_without_settings(progress, reason[:300])
    except Exception as exc:  # noqa: BLE001 - the stop hook tries again
        return _fail(f"{reason}; end-of-run not sent: {_one_line(exc)}")
    return _fail(f"{reason} (end-of-run sent)", EXIT_END_OF_RUN_SENT)


def _publish_without_settings(progress: Progress, reason: str) -> None:
    topic, region = os.environ.get(ENV_CLOSE_TOPIC, ""), region_from_env() or ""
    if not (topic and region):
        raise AgentError(f"no settings and no fallback: {ENV_CLOSE_TOPIC} and {ENV_REGION} must be set "
                         "(/etc/pushdeploy/agent.env)")
    instance = _instance_id(None, progress)
    with progress.step("end-of-run", topic=topic, instance=instance, reason=repr(reason), agent_exited="true",
                       source="environment"):
        publisher = Publisher(make_clients(region).sns, topic)
        Backoff().call("end-of-run publish", lambda: publisher.end_of_run(instance, reason, agent_exited=True),
                       progress.line)


def cmd_build(args: argparse.Namespace) -> int:
    progress = Progress(wall=time.time)
    ctx = _context(args, progress)
    pipeline = ctx.config.pipeline(args.pipeline)
    result = build_pipeline(ctx, pipeline, commit=args.commit, dry_run=args.dry_run)
    if not (args.dry_run or args.no_publish):
        with progress.step("publish", topic=ctx.config.agent.close_topic_arn, outcome=result.outcome):
            Publisher(ctx.clients.sns, ctx.config.agent.close_topic_arn).publish(result)
        DeployJournal(ctx.config.agent.cache_dir, progress.line).clear(pipeline.id)
    if result.outcome in ("succeeded", "skipped"):
        return 0
    status = EXIT_ROLLED_BACK if result.outcome == "rolled_back" else EXIT_FAILED
    return _fail(f"build {pipeline.id} {result.outcome}: {result.error}", status)


def _service_ended(args: argparse.Namespace) -> tuple[bool, str]:
    """(send?, why) for the stop hook, from systemd's SERVICE_RESULT, EXIT_CODE and EXIT_STATUS."""
    result, code, status = (os.environ.get(k, "") for k in ("SERVICE_RESULT", "EXIT_CODE", "EXIT_STATUS"))
    if not args.if_service_failed:
        return True, ""
    if result in ("", "success"):
        return False, f"the agent service ended normally (SERVICE_RESULT={result or 'unset'})"
    if code == "exited" and status == str(EXIT_END_OF_RUN_SENT):
        return False, f"the agent published its own end-of-run before exiting (EXIT_STATUS={status})"
    detail = " ".join(filter(None, (code, status)))
    return True, f"agent service ended: {result}" + (f" ({detail})" if detail else "")


def cmd_end_of_run(args: argparse.Namespace) -> int:
    send, why = _service_ended(args)
    if not send:
        print(f"end-of-run not sent: {why}")
        return 0
    progress = Progress(wall=time.time)
    reason = args.reason or why or "sent by hand"
    # Past the check above, --if-service-failed means the agent died and systemd will not restart it
    # (Restart=no): close must stop the builder even with requests queued, or nothing would ever serve them.
    exited = bool(args.if_service_failed)
    try:
        with progress.step("config", file=args.config):
            config = load_config(args.config)
    except (AgentError, OSError) as exc:
        if not exited:
            raise
        # The file that failed may be why the agent died: ask for the stop without it.
        _publish_without_settings(progress, f"{reason}; settings file did not load: {exc}"[:300])
        return 0
    instance = _instance_id(config, progress)
    with progress.step("end-of-run", topic=config.agent.close_topic_arn, instance=instance, reason=repr(reason),
                       agent_exited=str(exited).lower()):
        publisher = Publisher(make_clients(config.agent.region).sns, config.agent.close_topic_arn)
        Backoff(budget=config.agent.retry_budget_seconds).call(
            "end-of-run publish", lambda: publisher.end_of_run(instance, reason, agent_exited=exited), progress.line)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog=PROG,
        description="pushdeploy builder agent: builds queued pipelines, pushes images, deploys them to ECS.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
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

    deploy_cli.register(sub, parents=[with_config])
    history_cli.register(sub, with_config)
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
