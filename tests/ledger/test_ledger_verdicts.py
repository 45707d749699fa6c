"""The verdicts on a ledger, with the repository's own close policy: a call its policy does not grant, or whose
condition does not hold, or that a resource policy denies, is denied and named in the table with why; the
admin's calls are not judged; granted actions no call used are listed, failing (once every story ran) unless
the reasons registry explains them, and a written reason no unused action needs fails too (it says something
untrue); and `python -m localrig ledger` exits non-zero on a denied call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from localrig.__main__ import main
from localrig.ledger import reasons
from localrig.ledger.context import CONTEXT_FILE, LEDGER_FILE
from localrig.ledger.verdicts import Verdicts, judge, table

REPO = Path(__file__).resolve().parents[2]
ACCOUNT, REGION = "111122223333", "ap-northeast-1"
QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/pushdeploy-build"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:pushdeploy-build"
BUILDER, OTHER = "i-0123456789abcdef0", "i-0123456789abcdef1"


def context(resource_policies: dict[str, Any] | None = None) -> dict[str, Any]:
    close = json.loads((REPO / ".chalice" / "policy-prod-close.json").read_text())
    return {"account": ACCOUNT, "region": REGION, "parts": {"close": {"role": "pushdeploy-prod-close",
                                                                       "documents": [close]}},
            "resource_policies": resource_policies or {},
            "instance_tags": {BUILDER: {"pushdeploy:role": "builder"}, OTHER: {"pushdeploy:role": "web"}}}


def record(part: str, service: str, operation: str, **params: Any) -> dict[str, Any]:
    return {"part": part, "service": service, "operation": operation, "params": params, "status": 200}


CALLS = [
    record("close", "ec2", "DescribeInstances"),
    record("close", "ec2", "StopInstances", InstanceIds=[BUILDER]),
    record("close", "sqs", "GetQueueAttributes", QueueUrl=QUEUE_URL),
    record("close", "ec2", "StopInstances", InstanceIds=[OTHER]),  # not tagged as the builder: condition
    record("close", "sqs", "SendMessage", QueueUrl=QUEUE_URL),  # not granted at all
    record("admin", "iam", "CreateRole", RoleName="anything"),  # the rig: never judged (nor mapped)
]


def test_calls_outside_the_policy_are_denied_and_named_with_why() -> None:
    verdicts = judge(CALLS, context(), Verdicts())
    assert (verdicts.calls["close"], verdicts.allowed["close"]) == (5, 3)
    assert "admin" not in verdicts.calls
    why = {(d.action, d.resource): d.why for d in verdicts.denied}
    assert set(why) == {("ec2:StopInstances", f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{OTHER}"),
                        ("sqs:SendMessage", QUEUE_ARN)}
    assert why[("ec2:StopInstances", f"arn:aws:ec2:{REGION}:{ACCOUNT}:instance/{OTHER}")].startswith(
        "condition of StopOnlyTheBuilder does not hold")
    assert why[("sqs:SendMessage", QUEUE_ARN)].startswith("no statement allows it")
    shown = table(verdicts, every_story_ran=False)
    assert f"DENIED close sqs SendMessage: sqs:SendMessage on {QUEUE_ARN}" in shown
    assert "denied calls: 2" in shown
    assert len(verdicts.failures(every_story_ran=False)) == 2


def test_a_resource_policy_deny_wins_over_the_identity_allow() -> None:
    deny = {"Statement": [{"Sid": "NobodyReads", "Effect": "Deny", "Principal": "*", "Action": "sqs:*",
                           "Resource": QUEUE_ARN}]}
    verdicts = judge(CALLS[2:3], context({QUEUE_ARN: deny}), Verdicts())
    (denied,) = verdicts.denied
    assert denied.why == "explicitly denied by resource policy statement NobodyReads"


def test_unused_actions_fail_without_a_reason_once_every_story_ran() -> None:
    verdicts = judge(CALLS[:3], context(), Verdicts())
    unused = {(u.statement, u.action): u.reason for u in verdicts.unused()}
    assert ("ReadBuildQueueDepth", "sqs:GetQueueAttributes") not in unused
    assert unused[("WriteOwnLogs", "logs:PutLogEvents")]  # a written reason: Lambda's runtime, not the code
    assert verdicts.failures(every_story_ran=False) == []
    assert not [f for f in verdicts.failures(every_story_ran=True) if f.startswith("unused without a reason")]
    nothing = judge([], context(), Verdicts())
    assert ("ReadBuildQueueDepth", "sqs:GetQueueAttributes") in {(u.statement, u.action) for u in nothing.unused()}
    assert nothing.failures(every_story_ran=False) == []
    assert "unused without a reason: close ReadBuildQueueDepth sqs:GetQueueAttributes" in nothing.failures(True)
    assert "UNUSED, no reason" in table(nothing, every_story_ran=True)


def test_a_reason_for_an_action_a_story_used_is_stale_once_every_story_ran(monkeypatch) -> None:
    monkeypatch.setattr(reasons, "REASONS", {  # the registry as it would be for the close part alone
        "WriteOwnLogs logs:CreateLogGroup": "runtime", "WriteOwnLogs logs:CreateLogStream": "runtime",
        "WriteOwnLogs logs:PutLogEvents": "runtime", "close ec2:StopInstances": "(planted) no story stops it"})
    verdicts = judge(CALLS[:3], context(), Verdicts())
    stale = "stale reason (no unused action needs it; remove it from localrig/ledger/reasons.py): close " \
            "ec2:StopInstances"
    assert verdicts.failures(every_story_ran=True) == [stale]
    assert verdicts.failures(every_story_ran=False) == []
    unused_by_all = judge([], context(), Verdicts())
    assert not [f for f in unused_by_all.failures(every_story_ran=True) if f.startswith("stale")]


def test_an_unknown_operation_or_part_fails_the_run() -> None:
    verdicts = judge([record("close", "sqs", "PurgeQueue", QueueUrl=QUEUE_URL),
                      record("unknown", "sqs", "GetQueueAttributes", QueueUrl=QUEUE_URL)], context(), Verdicts())
    assert [o for o in verdicts.unknown_operations if o.startswith("sqs PurgeQueue")]
    assert any("part 'unknown'" in d.why for d in verdicts.denied)
    assert len(verdicts.failures(every_story_ran=False)) == 3


def test_the_command_prints_the_table_and_exits_non_zero_on_a_denied_call(scratch: Path, capsys) -> None:
    tmp_path = scratch  # a planted denial: never where the session's own ledger report looks
    (tmp_path / CONTEXT_FILE).write_text(json.dumps(context()))
    (tmp_path / LEDGER_FILE).write_text("".join(json.dumps(r) + "\n" for r in CALLS))
    assert main(["ledger", str(tmp_path / LEDGER_FILE)]) == 1
    out = capsys.readouterr()
    assert "close                  5        3" in out.out and "FAIL denied: close sqs:SendMessage" in out.err
    (tmp_path / LEDGER_FILE).write_text("".join(json.dumps(r) + "\n" for r in CALLS[:3]))
    assert main(["ledger", str(tmp_path)]) == 0


def test_an_action_is_used_only_by_a_call_of_that_action() -> None:
    two = {"Statement": [{"Sid": "Two", "Effect": "Allow", "Action": ["sqs:GetQueueAttributes", "sqs:DeleteMessage"],
                          "Resource": QUEUE_ARN}]}
    held = dict(context(), parts={"probe": {"role": "probe", "documents": [two]}})
    verdicts = judge([record("probe", "sqs", "GetQueueAttributes", QueueUrl=QUEUE_URL)], held, Verdicts())
    assert [(u.statement, u.action) for u in verdicts.unused()] == [("Two", "sqs:DeleteMessage")]
