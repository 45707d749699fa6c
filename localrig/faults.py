"""The fault-injection suite: one scenario per way the pipeline can be hurt, each on a fresh rig.

A scenario injects its fault (localrig.aws.faults for what AWS does, the real registry and Slack
receiver for theirs, the agent's settings file, signals to the agent), drives pushes as a developer
would, plays the reconcile schedule where production would wait for it, and then accounts for
everything (``_account``):

- every accepted push ends deployed (a ``succeeded`` result, the service runs its image) or
  reported failed (a ``failed``/``rolled_back`` result);
- the builder ends ``stopped`` with no agent process left;
- exactly the expected Slack notifications arrived (each expected one matched by a different
  message, none left over);
- no request is unaccounted for: the build queue is empty, the dead-letter queue holds exactly the
  expected messages, and so does the Lambda failure queue.

``python -m localrig faults`` runs them all and prints the table; tests/e2e/test_faults.py runs each
as its own test. docs/faults.md lists what each scenario injects and expects.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from chalicelib import fifo
from chalicelib.contracts import BuildRequest, BuildResult, utc_now
from localrig import services, stories
from localrig.demo import Narrator, format_table, stop_shielded
from localrig.provision import PipelineSpec
from localrig.rig import LocalRig, RigError
from localrig.slack import payload_text

SETTLE_SECONDS = 240.0
VISIBILITY_SECONDS = 3  # a killed agent's requests come back this long after its last heartbeat
ROLLOUT_WAIT_SECONDS = 4  # the agent's rollout wait before it rolls back
STOPPING_SECONDS = 10.0  # EC2's stopping phase, longer than build_start's retries (1 + 2 s): the push is stranded
SAMPLE = PipelineSpec(repository="sample", branch="production", image_repository="production/sample",
                      cluster="production-cluster", service="web", family="production-task", container="web")
UNSERVED = "ghost/production"  # a pipeline no agent serves (a BRANCH_FILTER broader than its [[pipelines]])
POISON = '{"type": "pushdeploy.build_request", "version": 1, "repository": '  # cut off: not JSON

Match = Callable[[str], bool]


@dataclass
class FaultReport(stories.StoryReport):
    """A story report plus the accounting columns of the fault table."""

    deployed: list[str] = field(default_factory=list)
    reported: list[str] = field(default_factory=list)


@dataclass
class Expected:
    """What must be true when the scenario has settled (pushes by their 12-character commit)."""

    deployed: list[str] = field(default_factory=list)
    reported: list[str] = field(default_factory=list)
    either: list[str] = field(default_factory=list)  # deployed or reported failed, as long as it is one of them
    notifications: list[tuple[str, Match]] = field(default_factory=list)
    dead_letters: int = 0  # messages the DLQ holds at the end (waiting, or hidden once announced)
    lambda_failures: list[tuple[str, Callable[[dict[str, Any]], bool]]] = field(default_factory=list)


# ---------------------------------------------------------------- what a notification says


def deployed_message(sha: str) -> tuple[str, Match]:
    return f"'Deployed' naming {sha[:7]}", lambda text: "Deployed" in text and stories._mentions(text, sha)


def failed_message(sha: str, *words: str) -> tuple[str, Match]:
    said = f" saying {' / '.join(words)}" if words else ""
    return (f"'Build failed' naming {sha[:7]}{said}",
            lambda text: "Build failed" in text and stories._mentions(text, sha) and all(w in text for w in words))


def rolled_back_message(sha: str) -> tuple[str, Match]:
    return f"'Rolled back' naming {sha[:7]}", lambda text: "Rolled back" in text and stories._mentions(text, sha)


def final_message(sha: str) -> tuple[str, Match]:
    """Deployed or rolled back, never 'Nothing to deploy': an interrupted deploy is verified or undone."""
    return (f"'Deployed' or 'Rolled back' naming {sha[:7]}",
            lambda text: ("Deployed" in text or "Rolled back" in text) and stories._mentions(text, sha))


def agent_stopped_message(*words: str) -> tuple[str, Match]:
    said = f" ({' / '.join(words)})" if words else ""
    return (f"'builder agent stopped'{said}",
            lambda text: "agent stopped" in text.lower() and all(w.lower() in text.lower() for w in words))


def dead_letter_message(*words: str) -> tuple[str, Match]:
    return (f"dead-letter alert naming {' / '.join(words)}",
            lambda text: "dead" in text.lower() and all(w.lower() in text.lower() for w in words))


# ---------------------------------------------------------------- the rig and its moves


def fault_rig(run_dir: Path, engine: services.DockerEngine | None = None,
              on_event: Callable[[Any], None] | None = None, builders: int = 1) -> LocalRig:
    """A rig tuned so a scenario takes seconds: short idle grace, visibility timeout and rollout wait; a pool of
    ``builders`` (every scenario holds with one builder and with several)."""
    return LocalRig(run_dir, [SAMPLE], engine=engine, on_event=on_event, idle_grace_seconds=1,
                    visibility_timeout_seconds=VISIBILITY_SECONDS, wait_timeout_seconds=ROLLOUT_WAIT_SECONDS,
                    builders=builders)


def send_to_build_queue(rig: LocalRig, body: str, group: str) -> None:
    """Put a message straight into the build queue, as a stray sender or a redelivery would; a FIFO queue
    needs its message group and a deduplication id (a fresh one: SQS would drop a repeated one for 5 minutes)."""
    url = rig.outputs["BUILD_QUEUE_URL"]
    fifo = {"MessageGroupId": group, "MessageDeduplicationId": uuid.uuid4().hex} if url.endswith(".fifo") else {}
    rig.client("sqs").send_message(QueueUrl=url, MessageBody=body, **fifo)


def _push(rig: LocalRig, report: FaultReport, label: str, files: dict[str, str | None] | None = None) -> str:
    page = {"www/index.html": f"<h1>sample</h1>\n<p>{label}</p>\n"}
    sha = rig.commit(SAMPLE.repository, f"sample: {label}", files or page)
    rig.push(SAMPLE.repository, SAMPLE.branch)
    report.pushes.append(sha[:12])
    return sha


def _result_of(rig: LocalRig, sha: str, since: float) -> BuildResult | None:
    found = [r for r in rig.build_results(since) if r.commit == sha]
    return found[-1] if found else None


def _wait_result(rig: LocalRig, sha: str, since: float) -> BuildResult:
    rig.wait(lambda: _result_of(rig, sha, since) is not None, SETTLE_SECONDS, f"the build result of {sha[:12]}")
    result = _result_of(rig, sha, since)
    assert result is not None
    return result


def _stopped_and_idle(rig: LocalRig) -> bool:
    """No invocation pending, then the builder stopped with no agent: read in this order, a builder that an
    invocation started between the reads cannot pass for stopped."""
    return rig.lambda_idle() and rig.builder_state() == "stopped" and not rig.agent_running() and rig.lambda_idle()


def serve_stranded(rig: LocalRig) -> None:
    """What the reconcile schedule does in production, played at once: once the builder is stopped with
    requests left (in flight ones come back after their visibility timeout), fire it."""
    rig.wait(lambda: _stopped_and_idle(rig), SETTLE_SECONDS, "the builder to stop with requests left")
    if rig.queue_depth() == 0:
        return
    rig.wait(lambda: rig.queue_waiting() == rig.queue_depth() > 0, SETTLE_SECONDS,
             "the stranded requests to be visible again")
    rig.fire_schedule("reconcile")
    rig.wait(lambda: rig.builder_state() != "stopped" or not rig.lambda_idle() or rig.queue_depth() == 0,
             60, "the reconcile to act")


def announce_dead_letters(rig: LocalRig) -> None:
    """Fire the reconcile once the builder is stopped, so it announces what the DLQ holds."""
    rig.wait(lambda: _stopped_and_idle(rig), SETTLE_SECONDS, "the builder to stop")
    rig.fire_schedule("reconcile")
    rig.wait(rig.lambda_idle, 60, "the reconcile and notify to finish")


def _kill_at(rig: LocalRig, matches: Callable[[str], bool]) -> None:
    """Kill the agent of the builder that prints the line: the one serving the pipeline at that moment."""
    rig.kill_when(matches, SETTLE_SECONDS)


# ---------------------------------------------------------------- scenarios


def docker_build_fails(rig: LocalRig, report: FaultReport) -> Expected:
    sha = _push(rig, report, "break the build", {"www/FAIL_BUILD": stories.FAIL_REASON + "\n"})
    return Expected(reported=[sha], notifications=[failed_message(sha, stories.FAIL_REASON)])


def registry_down_then_back(rig: LocalRig, report: FaultReport) -> Expected:
    first = _push(rig, report, "pushed while the registry is down")
    frozen = rig.freeze_when(lambda line: "build ok" in line and first[:7] in line, SETTLE_SECONDS)
    try:
        rig.stop_registry()
    finally:
        rig.thaw(frozen)
    _wait_result(rig, first, 0)
    rig.wait(lambda: _stopped_and_idle(rig), SETTLE_SECONDS, "the builder to stop after the failed push")
    rig.start_registry_again()
    second = _push(rig, report, "pushed once the registry is back")
    return Expected(deployed=[second], reported=[first],
                    notifications=[failed_message(first, "push"), deployed_message(second)])


def _push_under(rig: LocalRig, report: FaultReport, label: str, **faults: Any) -> str:
    """One push built while ``faults`` are on; they are cleared once its result is out."""
    rig.faults.set(**faults)
    sha = _push(rig, report, label)
    _wait_result(rig, sha, 0)
    rig.faults.clear()
    return sha


def ecs_rejects_register(rig: LocalRig, report: FaultReport) -> Expected:
    sha = _push_under(rig, report, "register refused",
                      ecs_register_error="Too many concurrent attempts to create a new revision of the family")
    return Expected(reported=[sha], notifications=[failed_message(sha, "Too many concurrent attempts")])


def ecs_rejects_update(rig: LocalRig, report: FaultReport) -> Expected:
    sha = _push_under(rig, report, "update refused",
                      ecs_update_error="The service cannot be updated: the cluster is being modified")
    return Expected(reported=[sha], notifications=[failed_message(sha, "cluster is being modified")])


def rollout_never_stable(rig: LocalRig, report: FaultReport) -> Expected:
    sha = _push_under(rig, report, "tasks never become healthy", ecs_rollouts_stuck=True)
    return Expected(reported=[sha], notifications=[rolled_back_message(sha)])


def killed_mid_build(rig: LocalRig, report: FaultReport) -> Expected:
    sha = _push(rig, report, "the build that loses its agent")
    _kill_at(rig, lambda line: "deployed ok" in line)  # the next step is docker build
    serve_stranded(rig)
    return Expected(deployed=[sha], notifications=[agent_stopped_message("signal"), deployed_message(sha)])


def killed_mid_deploy(rig: LocalRig, report: FaultReport) -> Expected:
    rig.faults.set(ecs_rollouts_stuck=True)  # holds the rollout, so the kill lands while the agent waits on it
    sha = _push(rig, report, "the deploy that loses its agent")
    _kill_at(rig, lambda line: "wait " in line and "IN_PROGRESS" in line)
    rig.faults.clear()  # the new tasks do start, after the agent died
    serve_stranded(rig)
    return Expected(either=[sha], notifications=[agent_stopped_message("signal"), final_message(sha)])


def _a_builder_stopping(rig: LocalRig) -> bool:
    return "stopping" in rig.builder_states().values()


def push_while_stopping(rig: LocalRig, report: FaultReport) -> Expected:
    """With one builder the second push is stranded until the reconcile (build_start's retries run out while
    it stops); with a pool, build_start starts another, stopped, builder for it at once."""
    rig.faults.set(ec2_stopping_seconds=STOPPING_SECONDS)
    first = _push(rig, report, "before the stop")
    _wait_result(rig, first, 0)
    rig.wait(lambda: _a_builder_stopping(rig), SETTLE_SECONDS, "the builder to be stopping")
    second = _push(rig, report, "lands while the builder is stopping")
    rig.wait(lambda: rig.queue_depth() > 0 or _result_of(rig, second, 0) is not None, 60,
             "the second push's request in the build queue")
    report.expect("the second request arrived while the builder was stopping", _a_builder_stopping(rig),
                  rig.builder_states())
    serve_stranded(rig)

    def build_start_gave_up(record: dict[str, Any]) -> bool:
        return _build_start_event(rig, record, second)

    gave_up = [("build_start's event for the second push, retries spent while stopping", build_start_gave_up)]
    return Expected(deployed=[first, second], notifications=[deployed_message(first), deployed_message(second)],
                    lambda_failures=gave_up if rig.pool_size == 1 else [])


def _build_start_event(rig: LocalRig, record: dict[str, Any], sha: str) -> bool:
    """A failure-queue record holding build_start's event for ``sha``: Lambda's on-failure destination record
    (build_start on the SNS topic), or the wake queue's message moved by its redrive policy (build_start on the
    wake queue: the SNS envelope of the request, received too often)."""
    if "requestPayload" in record:
        message = record["requestPayload"]["Records"][0]["Sns"]["Message"]
        return record["requestContext"]["functionArn"].endswith(":build_start:$LATEST") and sha in message
    return (record.get("Type") == "Notification" and record.get("TopicArn") == rig.outputs["REQUEST_TOPIC_ARN"]
            and sha in record.get("Message", ""))


def _tap_request_topic(rig: LocalRig) -> str:
    """A second queue on the request topic: it receives the same SNS message (MessageId, Message) the
    build queue got, so the scenario can deliver that message again later, as SQS may."""
    sqs = rig.client("sqs")
    url = sqs.create_queue(QueueName=f"fault-tap-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rig.client("sns").subscribe(TopicArn=rig.outputs["REQUEST_TOPIC_ARN"], Protocol="sqs", Endpoint=arn)
    return url


def same_message_twice(rig: LocalRig, report: FaultReport) -> Expected:
    tap = _tap_request_topic(rig)
    sha = _push(rig, report, "delivered twice")
    _wait_result(rig, sha, 0)
    rig.wait(lambda: _stopped_and_idle(rig) and rig.queue_depth() == 0, SETTLE_SECONDS, "the first round to end")
    [copy] = rig.client("sqs").receive_message(QueueUrl=tap, MaxNumberOfMessages=1)["Messages"]
    send_to_build_queue(rig, copy["Body"], SAMPLE.key)
    message_id = json.loads(copy["Body"])["MessageId"]
    rig.emit("sqs", f"the request of {sha[:12]} delivered again (SNS MessageId {message_id})")
    serve_stranded(rig)
    return Expected(deployed=[sha], notifications=[deployed_message(sha)])


def poison_message(rig: LocalRig, report: FaultReport) -> Expected:
    send_to_build_queue(rig, POISON, "poison")
    rig.emit("sqs", "a message that is not a build request sent to the build queue")
    serve_stranded(rig)
    announce_dead_letters(rig)
    return Expected(notifications=[dead_letter_message()], dead_letters=1)


def slack_webhook_down(rig: LocalRig, report: FaultReport) -> Expected:
    """Down for one post: Lambda's async retry delivers it. Down longer than the retries: the event goes to
    the functions' on-failure destination (the stack's failure queue), where nothing is lost."""
    rig.slack.go_down(503, posts=1)
    brief = _push(rig, report, "announced on notify's retry")
    rig.wait(lambda: rig.notifications(), SETTLE_SECONDS, "the message to arrive on notify's retry")
    rig.wait(lambda: _stopped_and_idle(rig), SETTLE_SECONDS, "the builder to stop")
    rig.slack.go_down(503)
    long = _push(rig, report, "announced while Slack is down")
    _wait_result(rig, long, 0)
    rig.wait(lambda: _stopped_and_idle(rig), SETTLE_SECONDS, "the builder to stop and notify's retries to end")
    rig.slack.come_back()
    report.expect("Slack refused 1 post, then the 3 attempts (Lambda's two async retries) of the next",
                  len(rig.slack.refused) == 4, len(rig.slack.refused))

    def keeps_the_result(record: dict[str, Any]) -> bool:
        message = record["requestPayload"]["Records"][0]["Sns"]["Message"]
        return record["requestContext"]["functionArn"].endswith(":notify:$LATEST") and long in message

    return Expected(deployed=[brief, long], notifications=[deployed_message(brief)],
                    lambda_failures=[(f"notify's event with the result of {long[:7]}", keeps_the_result)])


def unservable_request(rig: LocalRig, report: FaultReport) -> Expected:
    repository, branch = UNSERVED.split("/")
    commit = uuid.uuid4().hex + uuid.uuid4().hex[:8]
    request = BuildRequest(repository, branch, commit, "codecommit-trigger", f"stray-{commit[:8]}", utc_now())
    topic = rig.outputs["REQUEST_TOPIC_ARN"]
    rig.client("sns").publish(TopicArn=topic, Message=request.to_json(), **fifo.publish_options(topic, request),
                              MessageAttributes={"repository": {"DataType": "String", "StringValue": repository},
                                                 "branch": {"DataType": "String", "StringValue": branch}})
    rig.emit("sns", f"a build request for {UNSERVED}, a pipeline the agent does not serve, published")
    announce_dead_letters(rig)
    return Expected(notifications=[dead_letter_message(UNSERVED, commit[:7])], dead_letters=1)


def bad_settings_file(rig: LocalRig, report: FaultReport) -> Expected:
    rig.write_agent_settings("[agent]\nregion = \"us-east-1\"\nqueue_url = 42\n")
    sha = _push(rig, report, "pushed while the settings are broken")
    rig.wait(lambda: any(end.agent_exited for end in rig.end_of_runs()), SETTLE_SECONDS,
             "the EndOfRun of the agent that could not start")
    rig.wait(lambda: _stopped_and_idle(rig), SETTLE_SECONDS, "the builder to stop after the agent failed to start")
    rig.write_agent_settings()
    serve_stranded(rig)
    return Expected(deployed=[sha], notifications=[agent_stopped_message("queue_url"), deployed_message(sha)])


SCENARIOS: dict[str, Callable[[LocalRig, FaultReport], Expected]] = {
    "docker-build-fails": docker_build_fails,
    "registry-down-then-back": registry_down_then_back,
    "ecs-rejects-register": ecs_rejects_register,
    "ecs-rejects-update": ecs_rejects_update,
    "rollout-never-stable": rollout_never_stable,
    "killed-mid-build": killed_mid_build,
    "killed-mid-deploy": killed_mid_deploy,
    "push-while-stopping": push_while_stopping,
    "same-message-twice": same_message_twice,
    "poison-message": poison_message,
    "slack-webhook-down": slack_webhook_down,
    "unservable-request": unservable_request,
    "bad-settings-file": bad_settings_file,
}


# ---------------------------------------------------------------- accounting


def run_scenario(name: str, rig: LocalRig) -> FaultReport:
    """Run one scenario on a started rig and account for everything; never raises for a failed check."""
    report = FaultReport(name)
    started = time.time()
    revision = rig.service_revision(SAMPLE)
    try:
        expected = SCENARIOS[name](rig, report)
        rig.wait_quiet(SETTLE_SECONDS)
    except Exception as exc:  # noqa: BLE001 - a scenario that cannot finish is a failed row, with the reason
        report.expect("the scenario ran to the end", False, f"{type(exc).__name__}: {exc}")
        expected = None
    report.seconds = round(time.time() - started, 1)
    try:
        _observe(rig, report, revision)
        if expected is not None:
            _account(rig, report, expected)
    except Exception as exc:  # noqa: BLE001 - the rig could not be read: a failed row, with the reason
        report.expect("the rig could be read after the scenario", False, f"{type(exc).__name__}: {exc}")
    return report


def _observe(rig: LocalRig, report: FaultReport, revision: int) -> None:
    results = rig.build_results()
    report.builds = [{"pipeline": r.pipeline, "commit": (r.commit or "")[:12], "outcome": r.outcome,
                      "image": r.image.tag if r.image else None, "error": r.error} for r in results]
    report.deployed = [b["commit"] for b in report.builds if b["outcome"] == "succeeded"]
    report.reported = [b["commit"] for b in report.builds if b["outcome"] in ("failed", "rolled_back")]
    report.builder_state = rig.builder_state()
    report.notifications = [payload_text(p).replace("\n", " | ") for p in rig.notifications()]
    report.revision_before = {SAMPLE.key: revision}
    report.revision_after = {SAMPLE.key: rig.service_revision(SAMPLE)}


def _account(rig: LocalRig, report: FaultReport, expected: Expected) -> None:
    report.expect("builder stopped, no agent process left",
                  report.builder_state == "stopped" and not rig.agent_running(), report.builder_state)
    report.expect("build queue empty", rig.queue_depth() == 0, rig.queue_depth())
    report.expect("every accepted push deployed or reported failed",
                  set(report.pushes) <= set(report.deployed) | set(report.reported),
                  f"pushes {report.pushes}, builds {[(b['commit'], b['outcome']) for b in report.builds]}")
    either = {s[:12] for s in expected.either}
    for column, got, want in (("deployed", report.deployed, expected.deployed),
                              ("reported failed", report.reported, expected.reported)):
        want_set = {s[:12] for s in want}
        report.expect(f"{column}: exactly the expected pushes", want_set <= set(got) <= want_set | either, got)
    report.expect("no push built twice", len(report.builds) == len({b["commit"] for b in report.builds}),
                  [b["commit"] for b in report.builds])
    succeeded = [b for b in report.builds if b["outcome"] == "succeeded"]
    if succeeded:
        image = rig.service_image(SAMPLE)
        report.expect("the service runs the last deployed image", stories._runs_tag(image, succeeded[-1]["image"]),
                      image)
    else:
        report.expect("the service still runs the revision it ran before",
                      report.revision_after == report.revision_before,
                      f"{report.revision_before} -> {report.revision_after}")
    _matches(report, "Slack notifications", expected.notifications, report.notifications)
    held = rig.queue_counts(rig.outputs["BUILD_DLQ_URL"])
    report.expect(f"dead-letter queue holds exactly {expected.dead_letters}", held == expected.dead_letters, held)
    failures = [json.loads(m["Body"]) for m in rig.queue_messages(rig.failure_queue_url)]
    _matches(report, "Lambda failure queue", expected.lambda_failures, failures)


def _matches(report: FaultReport, what: str, expected: list[tuple[str, Callable[[Any], bool]]],
             found: list[Any]) -> None:
    """Each expected item matched by a different found one, and nothing found left over."""
    left = list(found)
    missing = []
    for label, ok in expected:
        hit = next((item for item in left if ok(item)), None)
        if hit is None:
            missing.append(label)
        else:
            left.remove(hit)
    labels = [label for label, _ in expected] or ["nothing"]
    shown = [str(item)[:160] for item in found]
    report.expect(f"{what}: exactly {'; '.join(labels)}", not missing and not left,
                  f"missing {missing}, unexpected {[str(i)[:160] for i in left]}" if missing or left else shown)


# ---------------------------------------------------------------- the table


def table_rows(reports: list[FaultReport]) -> list[list[str]]:
    rows = [["scenario", "pushes", "builds", "deployed", "reported", "builder", "result"]]
    for r in reports:
        builds = ", ".join(f"{b['commit'][:7]} {b['outcome']}" for b in r.builds) or "-"
        rows.append([r.story, str(len(r.pushes)), f"{len(r.builds)} ({builds})", str(len(set(r.deployed))),
                     str(len(set(r.reported))), r.builder_state or "?", "PASS" if r.passed else "FAIL"])
    return rows


def run_suite(state_dir: Path, only: list[str] | None = None, out: TextIO = sys.stdout,
              narrate: bool = False, builders: int = 1) -> int:
    """Every scenario (or ``only`` those) on its own fresh rig with a pool of ``builders``; print the checks and
    the table; 0 if all pass."""
    names = only or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        print(f"unknown scenario(s) {', '.join(unknown)}; have: {', '.join(SCENARIOS)}", file=out)
        return 2
    run_dir = state_dir / "faults" / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    engine = services.find_or_start_docker(state_dir / "docker")
    narrator = Narrator(out) if narrate else None
    reports: list[FaultReport] = []
    try:
        for name in names:
            print(f"\n=== {name} " + "=" * max(0, 88 - len(name)), file=out, flush=True)
            reports.append(_run_on_fresh_rig(name, run_dir / name, engine, narrator, out, builders))
    finally:
        engine.stop()
    print("\n" + format_table(table_rows(reports)), file=out)
    summary = run_dir / "summary.json"
    summary.write_text(json.dumps([r.to_dict() for r in reports], indent=2))
    print(f"\nsummary JSON: {summary}\nlogs: {run_dir}/<scenario>/ (lambda-journal.jsonl, builder/agent-*.log, "
          "slack.jsonl)", file=out)
    ok = all(r.passed for r in reports)
    print("FAULTS PASSED" if ok else "FAULTS FAILED", file=out, flush=True)
    return 0 if ok else 1


def _run_on_fresh_rig(name: str, run_dir: Path, engine: services.DockerEngine, narrator: Narrator | None,
                      out: TextIO, builders: int = 1) -> FaultReport:
    rig = fault_rig(run_dir, engine=engine, on_event=narrator, builders=builders)
    try:
        rig.start()
        report = run_scenario(name, rig)
    except (RigError, services.ServiceError) as exc:
        report = FaultReport(name)
        report.expect("the rig started", False, str(exc))
    finally:
        stop_shielded(rig)
        if narrator is not None:
            narrator.flush()  # the scenario's buffered events before its checks
    for check in report.checks:
        mark = "ok  " if check.ok else "FAIL"
        print(f"  [{mark}] {check.expectation}" + ("" if check.ok else f" (observed: {check.observed})"),
              file=out, flush=True)
    return report
