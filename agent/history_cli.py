"""``pushdeploy-agent history PIPELINE`` and ``pushdeploy-agent status``: what pushdeploy built, and what runs
where, read with the builder's credentials from the build history table (``[agent] history_table``) and ECS.

The same records and the same status logic as ``GET /builds`` and ``GET /status`` (chalicelib), so the command
line and the API never disagree; ``--json`` prints exactly the API's JSON.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from typing import Any

from agent import AgentError
from agent.aws import make_clients
from agent.config import Config, load_config
from chalicelib.history.store import HistoryTable
from chalicelib.status import PipelineTargets, read_status

DEFAULT_LIMIT = 20


def _table(config: Config) -> HistoryTable:
    if not config.agent.history_table:
        raise AgentError(f"{config.path}: [agent] history_table is not set (python -m infra record writes it from "
                         "the pipeline stack's BuildHistoryTableName output)")
    return HistoryTable(make_clients(config.agent.region).dynamodb, config.agent.history_table)


def cmd_history(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    config.pipeline(args.pipeline)  # an unknown pipeline is an error naming the configured ones
    records, _ = _table(config).builds(args.pipeline, args.limit)
    if args.json:
        print(json.dumps({"builds": records}, indent=2))
        return 0
    if not records:
        print(f"no builds of {args.pipeline} in history")
    for record in records:
        print(build_line(record))
        for detail in build_details(record):
            print(f"    {detail}")
    return 0


def build_line(record: Mapping[str, Any]) -> str:
    """``started  outcome  id  commit  duration  trigger by who``: one build, one line."""
    duration = record.get("duration_seconds")
    who = " ".join(filter(None, [record.get("trigger") or "", f"by {record['requested_by']}"
                                 if record.get("requested_by") else ""]))
    return "  ".join([str(record.get("started_at", ""))[:19].replace("T", " "), f"{record.get('outcome', ''):<11}",
                      str(record.get("build_id", ""))[:12], (record.get("commit") or "-------")[:7],
                      f"{duration:7.1f}s" if isinstance(duration, (int, float)) else "      ?s",
                      f"{record.get('action', 'build'):<8}", who]).rstrip()


def build_details(record: Mapping[str, Any]) -> list[str]:
    lines = []
    if record.get("commits"):
        first = record["commits"][0]
        lines.append(f"commit {first['sha'][:7]} {first.get('subject', '')!r} by {first.get('author', '')}")
    for svc in record.get("services") or []:
        lines.append(f"{svc['cluster']}/{svc['service']}: {_short(svc.get('before'))} -> {_short(svc.get('after'))}")
    if record.get("steps"):
        lines.append("steps: " + ", ".join(f"{s['name']} {s['seconds']:.1f}s" + ("" if s.get("ok", True) else " FAILED")
                                           for s in record["steps"]))
    if record.get("error"):
        lines.append(f"error: {record['error']}")
    if (record.get("log") or {}).get("url"):
        lines.append(f"log: {record['log']['url']}")
    return lines


def _short(task_definition: str | None) -> str:
    return (task_definition or "(none)").rsplit("/", 1)[-1]


def cmd_status(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    targets = [PipelineTargets(p.id, p.image_repository, tuple(
        {"cluster": t.cluster, "services": list(t.services), "containers": list(t.containers)} for t in p.deploy))
        for p in config.pipelines]
    status = read_status(make_clients(config.agent.region).ecs, _table(config), targets)
    if args.json:
        print(json.dumps(status, indent=2))
        return 0
    for pipeline in status["pipelines"]:
        last = pipeline["last_build"]
        print(f"{pipeline['pipeline']}: last build " + (build_line(last) if last else "none recorded"))
        for svc in pipeline["services"]:
            print("    " + service_line(svc))
    return 0


def service_line(svc: Mapping[str, Any]) -> str:
    drift = {True: f"DRIFT: {svc.get('drift_reason')}", False: "as deployed", None: "nothing recorded"}[svc["drift"]]
    parts = [f"{svc['cluster']}/{svc['service']}", svc.get("revision") or "-", f"commit {svc.get('commit') or '?'}",
             str(svc.get("rollout_state")), f"{svc.get('running_count')}/{svc.get('desired_count')} running", drift]
    if svc.get("error"):
        parts.append(f"error: {svc['error']}")
    return "  ".join(parts)


def register(subparsers: argparse._SubParsersAction, with_config: argparse.ArgumentParser) -> None:
    history = subparsers.add_parser("history", parents=[with_config], help="print a pipeline's recent builds",
                                    description="Print the newest builds of a pipeline from the build history "
                                                "table ([agent] history_table), newest first.")
    history.add_argument("pipeline", metavar="PIPELINE", help="pipeline id, e.g. sample/production")
    history.add_argument("--limit", type=_limit, default=DEFAULT_LIMIT, help="how many builds (1-100, default 20)")
    history.add_argument("--json", action="store_true", help="print the records as GET /builds answers them")
    history.set_defaults(func=cmd_history)
    status = subparsers.add_parser("status", parents=[with_config], help="print what runs where, and drift",
                                   description="For every deploy target: the revision, image commit and rollout "
                                               "state ECS reports now, and whether it differs from the last deploy "
                                               "pushdeploy recorded (drift: a hand deploy).")
    status.add_argument("--json", action="store_true", help="print the status as GET /status answers it")
    status.set_defaults(func=cmd_status)


def _limit(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 100:
        raise argparse.ArgumentTypeError(f"expected an integer from 1 to 100, got {text!r}")
    return int(text)
