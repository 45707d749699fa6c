"""``python -m localrig``: the demo, the fault suite, and the push hook the CodeCommit stand-in runs.

    python -m localrig demo [--state-dir .rig]
    python -m localrig faults [--only NAME ...] [--narrate] [--builders N] [--state-dir .rig]
    python -m localrig hook --rig-state FILE --repository NAME   (run by git's post-receive)
    python -m localrig up [--state-dir .rig]      (the rig kept running for `chalice local --stage local`)
    python -m localrig sign-github [--secret-env VAR | --secret-parameter NAME] FILE
    python -m localrig github-payload --repository NAME --branch BRANCH [--run-dir DIR]
    python -m localrig webhook-hook --config FILE   (run by git's post-receive: the provider's push webhook)
    python -m localrig ledger [--every-story-ran] RUN_DIR_OR_LEDGER ...   (the IAM call ledger's table)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from botocore.exceptions import BotoCoreError, ClientError

from agent import CommandParser, __version__, report_error
from localrig import services
from localrig.git import codecommit, github_webhook, webhook_hook, webhook_payloads
from localrig.provision import PROVISIONERS

PROG = "python -m localrig"


def fault_names() -> list[str]:
    from localrig.faults import SCENARIOS

    return list(SCENARIOS)


class RigParser(CommandParser):
    command_name = PROG


def parser() -> argparse.ArgumentParser:
    parser = RigParser(prog=PROG, description="pushdeploy's local rig")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the whole pipeline locally through four stories")
    demo.add_argument("--state-dir", type=Path, default=Path(".rig"),
                      help="runs go to STATE_DIR/runs/<time>; a private Docker engine keeps its data in "
                           "STATE_DIR/docker (layer cache survives re-runs)")
    demo.add_argument("--provision", choices=PROVISIONERS, default="cloudformation",
                      help="cloudformation: deploy infra/pipeline.yaml into moto (default); api: the same resources "
                           "made with API calls")
    faults = sub.add_parser("faults", help="run the fault-injection scenarios, each on a fresh rig; print the table")
    faults.add_argument("--only", action="append", metavar="NAME",
                        help="run only this scenario (repeatable); names: " + ", ".join(fault_names()))
    faults.add_argument("--narrate", action="store_true", help="print every rig event as it happens")
    faults.add_argument("--builders", type=int, default=1, metavar="N",
                        help="a pool of N builders (each its own agent and Docker engine); default 1")
    faults.add_argument("--state-dir", type=Path, default=Path(".rig"),
                        help="runs go to STATE_DIR/faults/<time>/<scenario>")
    hook = sub.add_parser("hook", help="post-receive hook: turn the pushed refs into a CodeCommit trigger event")
    hook.add_argument("--rig-state", type=Path, required=True)
    hook.add_argument("--repository", required=True)
    _add_local_commands(sub)
    return parser


def _add_local_commands(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    up = sub.add_parser("up", help="start the rig and keep it running for `chalice local --stage local`; "
                                   "prints what to export (and writes STATE_DIR/local.env)")
    up.add_argument("--state-dir", type=Path, default=Path(".rig"),
                    help="runs go to STATE_DIR/runs/<time>-up; STATE_DIR/local.env links to the running rig's exports")
    up.add_argument("--provision", choices=PROVISIONERS, default="cloudformation")
    sign = sub.add_parser("sign-github", help="print the X-Hub-Signature-256 value of FILE's bytes")
    source = sign.add_mutually_exclusive_group()
    source.add_argument("--secret-env", metavar="VAR", help="the secret is this environment variable's value")
    source.add_argument("--secret-parameter", metavar="NAME",
                        help="the secret is this SSM parameter (default: $WEBHOOK_SECRET_PREFIX/github, read "
                             "through the endpoint local.env exports)")
    sign.add_argument("file", type=Path)
    payload = sub.add_parser("github-payload", help="print a GitHub push event for a rig repository's branch head")
    payload.add_argument("--repository", required=True, help="the rig repository (and the payload's full_name)")
    payload.add_argument("--branch", required=True)
    payload.add_argument("--run-dir", type=Path, help="the rig's run directory (default: $PUSHDEPLOY_RIG_RUN_DIR)")
    payload.add_argument("--pusher", default=github_webhook.DEFAULT_PUSHER)
    hook = sub.add_parser("webhook-hook", help="post-receive hook: send the push as the provider's webhook")
    hook.add_argument("--config", type=Path, required=True)
    ledger = sub.add_parser("ledger", help="judge rig runs' recorded AWS calls against each part's policies; "
                                           "print the table; exit 1 on a denied call")
    ledger.add_argument("runs", type=Path, nargs="+", metavar="RUN_DIR_OR_LEDGER",
                        help="a rig run directory, or its ledger.jsonl (ledger-context.json must sit next to it)")
    ledger.add_argument("--every-story-ran", action="store_true",
                        help="these runs are every story: an action no call used, without a written reason, fails")


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.command == "hook":
        return codecommit.main(["--rig-state", str(args.rig_state), "--repository", args.repository])
    if args.command == "webhook-hook":
        return _webhook_hook(args.config)
    if args.command == "ledger":
        return _ledger(args.runs, args.every_story_ran)
    if args.command in ("sign-github", "github-payload"):
        return _webhook_tool(args)
    if args.command == "faults":
        from localrig.faults import run_suite

        try:
            return run_suite(args.state_dir.resolve(), only=args.only, narrate=args.narrate, builders=args.builders)
        except services.ServiceError as exc:
            return report_error(f"fault suite cannot start: {exc}", 2, PROG)
    if args.command == "up":
        from localrig.up import run_up

        return run_up(args.state_dir.resolve(), provisioner=args.provision)
    from localrig.demo import run_demo

    try:
        return run_demo(args.state_dir.resolve(), provisioner=args.provision)
    except services.ServiceError as exc:
        return report_error(f"demo cannot start: {exc}", 2, PROG)


def _ledger(runs: list[Path], every_story_ran: bool) -> int:
    from localrig.ledger.verdicts import judge_runs, table

    verdicts = judge_runs(path.parent if path.is_file() else path for path in runs)
    print(table(verdicts, every_story_ran))
    failures = verdicts.failures(every_story_ran)
    for failure in failures:
        print(f"FAIL {failure}", file=sys.stderr)
    return 1 if failures else 0


def _webhook_hook(config: Path) -> int:
    try:
        outcomes = webhook_hook.run(config, sys.stdin.read())
    except (codecommit.HookError, webhook_payloads.PayloadError, OSError) as exc:
        print(f"pushdeploy webhook: {exc}", file=sys.stderr)
        return 1
    for outcome in outcomes:
        print(f"pushdeploy webhook: {outcome['provider']} delivery {outcome['delivery_id']} -> {outcome['status']} "
              f"{outcome['answer'][:200]}", file=sys.stderr)
    return 0


def _webhook_tool(args: argparse.Namespace) -> int:
    try:
        if args.command == "github-payload":
            git_dir = github_webhook.repository_dir(args.repository, args.run_dir)
            print(json.dumps(github_webhook.branch_payload(git_dir, args.repository, args.branch, args.pusher),
                             indent=2))
            return 0
        secret = (github_webhook.secret_from_env(args.secret_env) if args.secret_env
                  else github_webhook.secret_from_parameter(args.secret_parameter))
        print(github_webhook.signature(secret, args.file.read_bytes()))
        return 0
    except (github_webhook.PayloadError, OSError, ClientError, BotoCoreError) as exc:
        return report_error(f"{args.command}: {exc}", 1, PROG)

if __name__ == "__main__":
    sys.exit(main())
