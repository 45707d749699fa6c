"""``python -m localrig``: the demo, the fault suite, and the push hook the CodeCommit stand-in runs.

    python -m localrig demo [--state-dir .rig]
    python -m localrig faults [--only NAME ...] [--narrate] [--state-dir .rig]
    python -m localrig hook --rig-state FILE --repository NAME   (run by git's post-receive)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from localrig import codecommit, services
from localrig.provision import PROVISIONERS


def fault_names() -> list[str]:
    from localrig.faults import SCENARIOS

    return list(SCENARIOS)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localrig", description="pushdeploy's local rig")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run the whole pipeline locally through three stories")
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
    faults.add_argument("--state-dir", type=Path, default=Path(".rig"),
                        help="runs go to STATE_DIR/faults/<time>/<scenario>")
    hook = sub.add_parser("hook", help="post-receive hook: turn the pushed refs into a CodeCommit trigger event")
    hook.add_argument("--rig-state", type=Path, required=True)
    hook.add_argument("--repository", required=True)
    args = parser.parse_args(argv)
    if args.command == "hook":
        try:
            request_id = codecommit.run_hook(args.rig_state, args.repository, sys.stdin.read())
        except codecommit.HookError as exc:
            print(f"pushdeploy trigger: {exc}", file=sys.stderr)
            return 1
        print(f"pushdeploy trigger: request function invoked (request {request_id})", file=sys.stderr)
        return 0
    if args.command == "faults":
        from localrig.faults import run_suite

        try:
            return run_suite(args.state_dir.resolve(), only=args.only, narrate=args.narrate)
        except services.ServiceError as exc:
            print(f"fault suite cannot start: {exc}", file=sys.stderr)
            return 2
    from localrig.demo import run_demo

    try:
        return run_demo(args.state_dir.resolve(), provisioner=args.provision)
    except services.ServiceError as exc:
        print(f"demo cannot start: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
