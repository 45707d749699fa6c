"""The user stories the demo narrates and the end-to-end tests assert, driven through the rig.

Each story does what a developer does (commit, ``git push``), waits for what the pipeline
promises (a build result on the close topic, then everything settled: builder stopped, queue
empty, no Lambda invocation pending), and returns a ``StoryReport``: the facts observed plus
the story's expectations, each checked. Nothing waits blindly: every wait polls a condition.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

from agent.docker.imageref import parse_image
from chalicelib.contracts import BuildResult
from localrig.git import hosted, webhook_hook
from localrig.provision import PipelineSpec
from localrig.rig import LocalRig
from localrig.slack import payload_text

BUILD_TIMEOUT = 300.0
FAIL_REASON = "the sample's health check is missing"
FAILING_STEP = "FAIL_BUILD"  # the guarded RUN step of examples/sample/Dockerfile names its guard file
FAIL_MESSAGE = "build failed on purpose: {reason}"  # what that step prints (on stderr) before it exits 1


@dataclass
class Check:
    expectation: str
    ok: bool
    observed: str


@dataclass
class StoryReport:
    story: str
    pushes: list[str] = field(default_factory=list)
    builds: list[dict[str, Any]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    new_tags: list[str] = field(default_factory=list)
    revision_before: dict[str, int] = field(default_factory=dict)
    revision_after: dict[str, int] = field(default_factory=dict)
    builder_state: str = ""
    notifications: list[str] = field(default_factory=list)
    seconds: float = 0.0
    checks: list[Check] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return all(c.ok for c in self.checks)

    def expect(self, expectation: str, ok: bool, observed: Any) -> None:
        self.checks.append(Check(expectation, bool(ok), str(observed)))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["passed"] = self.passed
        return data


class _Observer:
    """Before/after snapshot of one story, over the pipelines it touches."""

    def __init__(self, rig: LocalRig, report: StoryReport, specs: list[PipelineSpec]) -> None:
        self.rig, self.report, self.specs = rig, report, specs
        self.since = time.time()
        self.tags_before = {s.key: set(rig.tags(s)) for s in specs}
        report.revision_before = {s.key: rig.service_revision(s) for s in specs}

    def results(self) -> list[BuildResult]:
        return self.rig.build_results(self.since)

    def wait_result(self, sha: str) -> None:
        self.rig.wait(lambda: any(r.commit == sha for r in self.results()), BUILD_TIMEOUT,
                      f"the build result of commit {sha[:12]}")

    def finish(self) -> list[BuildResult]:
        self.rig.wait_quiet(BUILD_TIMEOUT)
        rig, report = self.rig, self.report
        results = self.results()
        report.builds = [{"pipeline": r.pipeline, "commit": (r.commit or "")[:12], "outcome": r.outcome,
                          "image": r.image.tag if r.image else None, "error": r.error} for r in results]
        report.tags = sorted({f"{s.image_repository}:{t}" for s in self.specs for t in rig.tags(s)})
        report.new_tags = sorted(f"{s.image_repository}:{t}" for s in self.specs
                                 for t in set(rig.tags(s)) - self.tags_before[s.key])
        report.revision_after = {s.key: rig.service_revision(s) for s in self.specs}
        report.builder_state = rig.builder_state()
        report.notifications = [payload_text(p).replace("\n", " | ") for p in rig.notifications(self.since)]
        report.seconds = round(time.time() - self.since, 1)
        report.expect("builder stopped at the end", report.builder_state == "stopped", report.builder_state)
        return results


def _tag_names(reference: str, sha: str) -> bool:
    """Agent tags are ``<UTC timestamp>-<short sha>``: does this image reference's tag name ``sha``?"""
    suffix = (parse_image(reference).tag or "").rsplit("-", 1)[-1]
    return len(suffix) >= 7 and sha.startswith(suffix)


def _runs_tag(image: str, tag: str) -> bool:
    return parse_image(image).tag == tag


def _change(rig: LocalRig, spec: PipelineSpec, label: str) -> str:
    """Commit a visible change to the sample page."""
    page = f"<h1>{spec.repository}</h1>\n<p>version: {label}</p>\n"
    return rig.commit(spec.repository, f"{spec.repository}: {label}", {"www/index.html": page})


def _mentions(text: str, sha: str) -> bool:
    return sha[:12] in text or sha[:7] in text


def _succeeded(report: StoryReport, result: BuildResult | None, sha: str, rig: LocalRig, spec: PipelineSpec) -> None:
    report.expect(f"build of {sha[:12]} succeeded", result is not None and result.outcome == "succeeded",
                  result.outcome if result else "no result")
    tagged = [t for t in report.new_tags if _tag_names(t, sha)]
    report.expect(f"image tagged for {sha[:7]} pushed to the registry", tagged, report.new_tags)
    image = rig.service_image(spec)
    report.expect("service runs the new image", result is not None and result.image is not None
                  and _runs_tag(image, result.image.tag), image)


def _names_failure(text: str | None, reason: str) -> bool:
    """The failure is named by the step's own message and by the failing command."""
    return bool(text) and FAIL_MESSAGE.format(reason=reason) in text and FAILING_STEP in text


def one_push(rig: LocalRig, spec: PipelineSpec, label: str = "story 1") -> StoryReport:
    """Push one commit: image pushed, new revision, builder stopped, one success notification."""
    report = StoryReport("1. push one commit")
    watch = _Observer(rig, report, [spec])
    sha = _change(rig, spec, label)
    report.pushes.append(rig.push(spec.repository, spec.branch)[:12])
    watch.wait_result(sha)
    results = watch.finish()
    report.expect("exactly one build", len(results) == 1, len(results))
    _succeeded(report, results[-1] if results else None, sha, rig, spec)
    before, after = report.revision_before[spec.key], report.revision_after[spec.key]
    report.expect("service moved to a new revision", after == before + 1, f"{before} -> {after}")
    report.expect("one success notification naming the commit",
                  len(report.notifications) == 1 and _mentions(report.notifications[0], sha)
                  and "succeeded" in report.notifications[0].lower(), report.notifications)
    return report


def _building(sha: str) -> Callable[[str], bool]:
    """An agent output line saying a step of the build of ``sha`` finished (e.g. ``source ok``)."""
    return lambda line: _mentions(line, sha) and " ok " in line


def pushes_during_a_build(rig: LocalRig, spec: PipelineSpec, k: int = 3) -> StoryReport:
    """Push K commits in quick succession while a build runs: exactly one more build, of the last."""
    report = StoryReport(f"2. push {k} commits while a build runs")
    watch = _Observer(rig, report, [spec])
    first = _change(rig, spec, "story 2 first")
    report.pushes.append(rig.push(spec.repository, spec.branch)[:12])
    boot = rig.builder.freeze_when(_building(first), BUILD_TIMEOUT)
    try:
        last = first
        for n in range(1, k + 1):
            last = _change(rig, spec, f"story 2 quick push {n}/{k}")
            report.pushes.append(rig.push(spec.repository, spec.branch)[:12])
    finally:
        rig.builder.thaw(boot)
    watch.wait_result(last)
    results = watch.finish()
    report.expect("two builds: the running one and exactly one more", len(results) == 2,
                  [(r.commit or "")[:12] for r in results])
    report.expect("the running build was of the first push", bool(results) and results[0].commit == first,
                  results[0].commit[:12] if results and results[0].commit else None)
    report.expect("the extra build was of the last commit", bool(results) and results[-1].commit == last,
                  results[-1].commit[:12] if results and results[-1].commit else None)
    _succeeded(report, results[-1] if results else None, last, rig, spec)
    before, after = report.revision_before[spec.key], report.revision_after[spec.key]
    report.expect("service moved two revisions", after == before + 2, f"{before} -> {after}")
    report.expect("one notification per build", len(report.notifications) == len(results), report.notifications)
    return report


def failing_build(rig: LocalRig, spec: PipelineSpec, reason: str = FAIL_REASON) -> StoryReport:
    """Push a commit whose build fails: failure notification (commit + reason), service untouched."""
    report = StoryReport("3. push a commit whose build fails")
    watch = _Observer(rig, report, [spec])
    sha = rig.commit(spec.repository, f"{spec.repository}: break the build", {"www/FAIL_BUILD": reason + "\n"})
    report.pushes.append(rig.push(spec.repository, spec.branch)[:12])
    watch.wait_result(sha)
    results = watch.finish()
    result = results[-1] if results else None
    report.expect("exactly one build, failed", len(results) == 1 and result is not None
                  and result.outcome == "failed", [r.outcome for r in results])
    report.expect("the result gives the failing step's own message and command",
                  result is not None and _names_failure(result.error, reason),
                  result.error if result else None)
    report.expect("failure notification naming the commit and the reason",
                  len(report.notifications) == 1 and _mentions(report.notifications[0], sha)
                  and _names_failure(report.notifications[0], reason), report.notifications)
    before, after = report.revision_before[spec.key], report.revision_after[spec.key]
    report.expect("service still on the previous revision", after == before, f"{before} -> {after}")
    report.expect("nothing pushed to the registry", not report.new_tags, report.new_tags)
    return report


def unchanged_commit(rig: LocalRig, spec: PipelineSpec) -> StoryReport:
    """Push a commit that changes nothing in the image: nothing pushed or deployed, ``skipped``."""
    report = StoryReport("push a commit that does not change the image")
    watch = _Observer(rig, report, [spec])
    sha = rig.commit(spec.repository, f"{spec.repository}: note in the history only")
    report.pushes.append(rig.push(spec.repository, spec.branch)[:12])
    watch.wait_result(sha)
    results = watch.finish()
    report.expect("exactly one build, skipped", [r.outcome for r in results] == ["skipped"],
                  [r.outcome for r in results])
    before, after = report.revision_before[spec.key], report.revision_after[spec.key]
    report.expect("service still on the same revision", after == before, f"{before} -> {after}")
    report.expect("nothing pushed to the registry", not report.new_tags, report.new_tags)
    return report


def two_pipelines_at_once(rig: LocalRig, specs: list[PipelineSpec]) -> StoryReport:
    """Push two repositories at the same moment: both are built and deployed."""
    report = StoryReport("push two pipelines at once")
    watch = _Observer(rig, report, specs)
    shas = {s.key: _change(rig, s, "pushed together") for s in specs}
    gate = threading.Barrier(len(specs))
    pushed: dict[str, str] = {}

    def push(spec: PipelineSpec) -> None:
        gate.wait(timeout=30)
        pushed[spec.key] = rig.push(spec.repository, spec.branch)

    threads = [threading.Thread(target=push, args=(s,)) for s in specs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    report.pushes = [pushed.get(s.key, "")[:12] for s in specs]
    for spec in specs:
        watch.wait_result(shas[spec.key])
    results = watch.finish()
    for spec in specs:
        mine = [r for r in results if r.pipeline == spec.key]
        _succeeded(report, mine[-1] if mine else None, shas[spec.key], rig, spec)
        before, after = report.revision_before[spec.key], report.revision_after[spec.key]
        report.expect(f"{spec.key} moved to a new revision", after == before + 1, f"{before} -> {after}")
    return report


def _git_fetches(rig: LocalRig) -> int:
    """Fetches the authenticated git server served (``git-upload-pack`` POSTs answered 200)."""
    log = rig.run_dir / "git-http.log"
    text = log.read_text(errors="replace") if log.exists() else ""
    return sum(1 for line in text.splitlines() if "git-upload-pack" in line and '" 200' in line)


def webhook_push(rig: LocalRig, spec: PipelineSpec, provider: str = "github") -> StoryReport:
    """Push to the repository on a hosted provider: its signed push webhook reaches the real `chalice local`,
    the builder fetches over authenticated smart HTTP with a token from SSM, and the service is deployed."""
    if rig.hosts.get(spec.repository) != provider:
        hosted.host(rig, spec, provider)
    report = StoryReport(f"4. push to {provider}: its signed webhook through chalice local, a token-guarded fetch")
    watch = _Observer(rig, report, [spec])
    bare = rig.bare[spec.repository]
    sent_before, fetches_before = len(webhook_hook.delivery_log(bare)), _git_fetches(rig)
    sha = _change(rig, spec, f"story 4 via {provider}")
    report.pushes.append(rig.push(spec.repository, spec.branch)[:12])
    watch.wait_result(sha)
    results = watch.finish()
    sent = webhook_hook.delivery_log(bare)[sent_before:]
    report.expect(f"one {provider} delivery, answered 2xx by chalice local",
                  len(sent) == 1 and 200 <= sent[0]["status"] < 300, [(d["status"], d["answer"][:120]) for d in sent])
    report.expect("exactly one build", len(results) == 1, len(results))
    result = results[-1] if results else None
    report.expect(f"the result says {provider} triggered it", result is not None and result.trigger == provider,
                  result.trigger if result else None)
    _succeeded(report, result, sha, rig, spec)
    report.expect("the builder fetched over authenticated HTTP", _git_fetches(rig) > fetches_before,
                  f"{_git_fetches(rig) - fetches_before} fetches")
    before, after = report.revision_before[spec.key], report.revision_after[spec.key]
    report.expect("service moved to a new revision", after == before + 1, f"{before} -> {after}")
    report.expect("one success notification naming the commit",
                  len(report.notifications) == 1 and _mentions(report.notifications[0], sha), report.notifications)
    return report


def api_call(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST JSON to the pipeline API; (status, JSON answer)."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as exc:
        return exc.code, json.load(exc)


def manual_redeploy(rig: LocalRig, spec: PipelineSpec) -> StoryReport:
    """Ask the pipeline API (under `chalice local`) to redeploy the branch head with ``force``: the commit is
    unchanged, yet it is deployed again (pushed under a new tag, a new revision), and the result says who asked."""
    base = rig.chalice_local.url if rig.chalice_local is not None else rig.start_chalice_local()
    report = StoryReport("manual redeploy: POST /pipelines/{id}/builds with force, through chalice local")
    watch = _Observer(rig, report, [spec])
    head = rig.git(rig.bare[spec.repository], "rev-parse", f"refs/heads/{spec.branch}")
    status, answer = api_call(f"{base}/pipelines/{quote(spec.key, safe='')}/builds", {"force": True})
    report.expect("the API accepted the request (202)", status == 202, f"{status} {answer}")
    rig.emit("apigateway", f"POST /pipelines/{spec.key}/builds force -> {status}")
    watch.wait_result(head)
    results = watch.finish()
    result = results[-1] if results else None
    report.expect("exactly one build, of the branch head", [r.commit for r in results] == [head],
                  [(r.commit or "")[:12] for r in results])
    report.expect("deployed (not skipped as unchanged)", result is not None and result.outcome == "succeeded",
                  result.outcome if result else None)
    report.expect("the result says it was asked by hand", result is not None and result.trigger == "manual"
                  and bool(result.requested_by), (result.trigger, result.requested_by) if result else None)
    before, after = report.revision_before[spec.key], report.revision_after[spec.key]
    report.expect("service moved to a new revision", after == before + 1, f"{before} -> {after}")
    image = rig.service_image(spec)
    report.expect("service runs the redeployed image", result is not None and result.image is not None
                  and _runs_tag(image, result.image.tag), image)
    return report
