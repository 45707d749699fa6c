"""The ledger's verdicts: every recorded call judged against its part's own policies, and the table.

Why here and not in moto: moto enforces only the Action of the (widened) identity policies; this judges each
call's IAM requests (localrig.ledger.iam_requests) with localrig.iam.iam_eval, which handles Resource, Condition
and resource policies, against the real documents (ledger-context.json). The table names every denied call
and every granted action no call used; ``failures`` is what must turn a run red.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localrig.iam.iam_eval import Request, evaluate, identity_matches, parse_principal, request_context, statements
from localrig.ledger.context import CONTEXT_FILE, LEDGER_FILE
from localrig.ledger.iam_requests import Call, Facts, IamRequest, UnknownOperation, iam_requests
from localrig.ledger.reasons import reason_for, stale_reasons

ADMIN = "admin"  # the rig and the tests: provisioning, fixtures, checks; never judged


@dataclass(frozen=True)
class Denied:
    part: str
    call: str  # "service Operation"
    action: str
    resource: str
    why: str


@dataclass(frozen=True)
class Unused:
    part: str
    statement: str
    action: str
    reason: str | None  # None: no written reason (a failure once every story ran)


@dataclass
class Verdicts:
    calls: Counter[str] = field(default_factory=Counter)  # part -> calls made
    allowed: Counter[str] = field(default_factory=Counter)  # part -> calls whose every request was allowed
    denied: list[Denied] = field(default_factory=list)
    unknown_operations: set[str] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)  # runs that could not be judged
    granted: set[tuple[str, str, str]] = field(default_factory=set)  # (part, statement, action) in the policies
    used: set[tuple[str, str, str]] = field(default_factory=set)
    runs: int = 0

    def unused(self) -> list[Unused]:
        return [Unused(p, s, a, reason_for(p, s, a)) for p, s, a in sorted(self.granted - self.used)]

    def failures(self, every_story_ran: bool) -> list[str]:
        """What makes the run fail: denied calls, unmapped operations and unjudged runs always; unused actions
        without a reason, and reasons no unused action needs, only when every story ran (a partial run leaves
        actions unused by design)."""
        denied = Counter(f"denied: {d.part} {d.action} on {d.resource} ({d.why})" for d in self.denied)
        found = [text + (f" (x{n})" if n > 1 else "") for text, n in sorted(denied.items())]
        found += [f"unknown operation: {o}" for o in sorted(self.unknown_operations)]
        found += [f"not judged: {e}" for e in self.errors]
        if every_story_ran:
            found += [f"unused without a reason: {u.part} {u.statement} {u.action}" for u in self.unused()
                      if u.reason is None]
            found += [f"stale reason (no unused action needs it; remove it from localrig/ledger/reasons.py): {key}"
                      for key in stale_reasons(self.granted - self.used)]
        return found


def read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def judge_runs(run_dirs: Iterable[Path], verdicts: Verdicts | None = None) -> Verdicts:
    verdicts = verdicts or Verdicts()
    for run_dir in sorted({Path(r).resolve() for r in run_dirs}):  # pytest's "...current" links name a run twice
        context_path = run_dir / CONTEXT_FILE
        if not context_path.exists():
            verdicts.errors.append(f"{run_dir}: no {CONTEXT_FILE}")
            continue
        judge(read_records(run_dir / LEDGER_FILE), json.loads(context_path.read_text()), verdicts, str(run_dir))
    return verdicts


def judge(records: Iterable[Mapping[str, Any]], context: Mapping[str, Any], verdicts: Verdicts,
          where: str = "run") -> Verdicts:
    verdicts.runs += 1
    if "error" in context:
        verdicts.errors.append(f"{where}: {context['error']}")
        return verdicts
    facts = Facts(context["account"], context["region"], context.get("instance_tags", {}),
                  context.get("partition", "aws"))
    parts = context["parts"]
    for part, held in parts.items():
        for sid, statement in _allow_statements(held["documents"]):
            verdicts.granted.update((part, sid, a) for a in _listed(statement.get("Action", [])))
    for record in records:
        if record.get("part") != ADMIN:
            _judge_call(record, context, facts, verdicts)
    return verdicts


def _judge_call(record: Mapping[str, Any], context: Mapping[str, Any], facts: Facts, verdicts: Verdicts) -> None:
    part, name = record.get("part") or "unknown", f"{record['service']} {record['operation']}"
    verdicts.calls[part] += 1
    call = Call(record["service"], record["operation"], record.get("params") or {}, record.get("instance"))
    if call.instance is None:  # a pool of one: the builder can only be that instance
        builders = [i for i, tags in facts.instance_tags.items() if tags.get("pushdeploy:role") == "builder"]
        if part == "builder" and len(builders) == 1:
            call = Call(call.service, call.operation, call.params, builders[0])
    try:
        requests = iam_requests(call, facts)
    except UnknownOperation as exc:
        verdicts.unknown_operations.add(str(exc))
        verdicts.denied.append(Denied(part, name, "?", "?", "operation not in the ledger's table"))
        return
    held = context["parts"].get(part)
    if held is None:
        for request in requests:
            verdicts.denied.append(Denied(part, name, request.action, request.resource,
                                          f"no policy: part {part!r} is not a part of pushdeploy "
                                          "(PUSHDEPLOY_RIG_PART unset?)"))
        return
    ok = True
    for request in requests:
        ok = _judge_request(part, name, held, request, call, context, verdicts) and ok
    if ok:
        verdicts.allowed[part] += 1


def principal(part: str, held: Mapping[str, Any], call: Call, context: Mapping[str, Any]) -> str:
    """The role session a part signs as on AWS: the function's role (session = its name), or the builder role
    (session = the instance id)."""
    session = call.instance or part if part == "builder" else part
    account = held.get("account") or context["account"]  # a part in another account (the source account's)
    return f"arn:{context.get('partition', 'aws')}:sts::{account}:assumed-role/{held['role']}/{session}"


def _judge_request(part: str, name: str, held: Mapping[str, Any], request: IamRequest, call: Call,
                   context: Mapping[str, Any], verdicts: Verdicts) -> bool:
    documents = held["documents"]
    asked = Request(principal(part, held, call, context), request.action, request.resource, request.context)
    decision = evaluate(documents, context.get("resource_policies", {}).get(request.resource), asked)
    if not decision.allowed:
        verdicts.denied.append(Denied(part, name + (f" ({request.implied_by})" if request.implied_by else ""),
                                      request.action, request.resource, _why(decision.reason, documents, asked)))
        return False
    who = parse_principal(asked.principal_arn)
    ctx = request_context(asked, who)
    for sid, statement in _allow_statements(documents):
        if any(True for _ in identity_matches({"Statement": [statement]}, asked, ctx)):
            verdicts.used.update((part, sid, a) for a in _listed(statement.get("Action", []))
                                 if _action_hit(a, request.action))
    return True


def _why(reason: str, documents: list[Mapping[str, Any]], asked: Request) -> str:
    """explicit deny / condition (an Allow names the action and resource, its condition fails) / no statement."""
    if "explicitly denied" in reason:
        return reason
    ctx = request_context(asked, parse_principal(asked.principal_arn))
    for sid, statement in _allow_statements(documents):
        if "Condition" in statement:
            bare = {k: v for k, v in statement.items() if k != "Condition"}
            if any(True for _ in identity_matches({"Statement": [bare]}, asked, ctx)):
                return f"condition of {sid} does not hold: {json.dumps(statement['Condition'])}"
    return f"no statement allows it ({reason})"


def _allow_statements(documents: Iterable[Mapping[str, Any]]) -> list[tuple[str, Mapping[str, Any]]]:
    found = []
    for d, document in enumerate(documents):
        for s, statement in enumerate(statements(document)):
            if statement["Effect"] == "Allow" and "Action" in statement:
                found.append((statement.get("Sid") or f"document {d + 1} statement {s + 1}", statement))
    return found


def _action_hit(pattern: str, action: str) -> bool:
    from localrig.iam.iam_eval import text_matches

    return text_matches(pattern, action, {}, ignore_case=True)


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


# ---------------------------------------------------------------------------------------------- the table

def table(verdicts: Verdicts, every_story_ran: bool) -> str:
    lines = [f"IAM call ledger: {verdicts.runs} rig run(s); calls of '{ADMIN}' (the rig, the tests) are not judged",
             "", f"{'part':<16}{'calls':>8}{'allowed':>9}"]
    for part in sorted(set(verdicts.calls) | {p for p, _, _ in verdicts.granted}):
        lines.append(f"{part:<16}{verdicts.calls[part]:>8}{verdicts.allowed[part]:>9}")
    lines += ["", f"denied calls: {len(verdicts.denied)}"]
    for d in sorted(set(verdicts.denied), key=lambda d: (d.part, d.action, d.resource)):
        count = verdicts.denied.count(d)
        lines.append(f"  DENIED {d.part} {d.call}: {d.action} on {d.resource}" + (f" (x{count})" if count > 1 else "")
                     + f"\n         why: {d.why}")
    for operation in sorted(verdicts.unknown_operations):
        lines.append(f"  UNKNOWN OPERATION {operation}")
    for error in verdicts.errors:
        lines.append(f"  NOT JUDGED {error}")
    unused = verdicts.unused()
    lines += ["", f"granted actions no call used: {len(unused)}"
              + ("" if every_story_ran else " (a partial run: those without a reason do not fail it)")]
    for u in unused:
        lines.append(f"  {u.part:<14} {u.statement:<44} {u.action:<36} "
                     + (f"reason: {u.reason}" if u.reason else "UNUSED, no reason"))
    return "\n".join(lines)
