"""First render of the dashboard in real headless Chromium with 1,000 builds in history (target: <= 1 s).

    .venv/bin/python benchmarks/dashboard.py [--builds 1000] [--loads 5]

A moto server is provisioned as the rig provisions it (API calls: topics, queue, ECS service, the history
table), the agent settings are uploaded as `python -m localrig up` uploads them, and ``--builds`` results are
recorded through the history writer (chalicelib/history/store.py), one pipeline, every outcome, each with its steps.
A real `chalice local --stage local` serves the page and the read routes. Each load is a fresh navigation;
the page stamps ``performance.now()`` (milliseconds since navigation start) on <body> when the build list is
first drawn (``data-first-render-ms``) and when the pipelines' status is (``data-status-render-ms``: GET
/status reads ECS live). Then every page of history is loaded with "Load older builds" to time drawing all of
them. Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chalicelib.contracts import BuildResult, CommitInfo, ImageInfo, ServiceDeployment, StepTiming  # noqa: E402
from chalicelib.history.record import to_record  # noqa: E402
from chalicelib.history.store import HistoryTable  # noqa: E402
from localrig import agent_config, services  # noqa: E402
from localrig.lambdas import chalice_local, local_stage  # noqa: E402
from localrig.provision import PipelineSpec, provision  # noqa: E402
from tests import chromium  # noqa: E402

TARGET_MS = 1000
SAMPLE = PipelineSpec(repository="sample")
STEPS = ("source", "login", "build", "push", "register", "update", "rollout_wait")


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def result(n: int, start: datetime) -> BuildResult:
    """Build ``n`` of the history: every seventh failed in its build step, the rest succeeded."""
    failed = n % 7 == 3
    steps, at = [], start
    for name in STEPS[:3] if failed else STEPS:
        seconds = 0.5 + (n * 7 + len(name)) % 40
        steps.append(StepTiming(name, stamp(at), float(seconds), ok=not (failed and name == "build")))
        at += timedelta(seconds=seconds)
    sha = uuid.uuid5(uuid.NAMESPACE_OID, str(n)).hex + "0" * 8
    task = "arn:aws:ecs:us-east-1:123456789012:task-definition/production-task"
    return BuildResult(
        pipeline=SAMPLE.key, repository=SAMPLE.repository, branch=SAMPLE.branch,
        outcome="failed" if failed else "succeeded", commit=sha, started_at=stamp(start), finished_at=stamp(at),
        commits=(CommitInfo(sha, f"sample: change number {n}", "Dev <dev@example.com>"),),
        image=None if failed else ImageInfo(f"127.0.0.1:5000/{SAMPLE.image_repository}:t{n}-{sha[:7]}",
                                            f"t{n}-{sha[:7]}", "sha256:" + "ab" * 32),
        services=() if failed else (
            ServiceDeployment(SAMPLE.cluster, SAMPLE.service, f"{task}:{n}", f"{task}:{n + 1}"),),
        error="build failed on purpose: benchmark history\nthe command returned a non-zero code: 1" if failed else None,
        trigger="codecommit", requested_by="arn:aws:iam::123456789012:user/dev", build_id=uuid.uuid4().hex,
        steps=tuple(steps))


def fill_history(moto: services.MotoServer, run_dir: Path, builds: int) -> dict[str, str]:
    """Provision, upload the agent settings, record ``builds`` results; return the `chalice local` exports."""
    import boto3

    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=moto.region)
    client = lambda name: session.client(name, endpoint_url=moto.url)  # noqa: E731
    outputs = provision(client, [SAMPLE], "https://hooks.slack.invalid/T/B/x",
                        {SAMPLE.key: f"127.0.0.1:5000/{SAMPLE.image_repository}:initial"})
    exports = local_stage.local_exports(moto.client_env(), outputs, [SAMPLE], run_dir)
    text = agent_config.render(outputs, [SAMPLE], {SAMPLE.repository: run_dir / "sample.git"}, "127.0.0.1:5000",
                               run_dir / "cache")
    local_stage.upload_agent_settings(client("ssm"), text, exports["AGENT_SETTINGS_PARAMETER"])
    table = HistoryTable(client("dynamodb"), outputs["BUILD_HISTORY_TABLE"])
    first = datetime.now(UTC) - timedelta(minutes=5 * builds)
    for n in range(builds):
        table.record(to_record(result(n, first + timedelta(minutes=5 * n))))
    return exports


def load(driver, url: str) -> tuple[float, float, float]:  # noqa: ANN001
    """(first render ms, status drawn ms, wall ms until the list is drawn) of one fresh navigation."""
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get("about:blank")
    started = time.perf_counter()
    driver.get(f"{url}/dashboard")
    body = lambda d: d.execute_script("return ['data-first-render-ms', 'data-status-render-ms']"  # noqa: E731
                                      ".map((name) => document.body.getAttribute(name))")
    WebDriverWait(driver, 30, poll_frequency=0.01).until(lambda d: body(d)[0] is not None)
    wall = (time.perf_counter() - started) * 1000
    WebDriverWait(driver, 30, poll_frequency=0.01).until(lambda d: body(d)[1] is not None)
    first, status = body(driver)
    return float(first), float(status), wall


def load_all(driver, builds: int) -> tuple[float, int]:  # noqa: ANN001
    """Seconds to draw every page of history with "Load older builds", and how many builds are then shown."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    count = "return document.querySelectorAll('#builds [data-build-id]').length"
    started = time.perf_counter()
    shown = driver.execute_script(count)
    while shown < builds:
        driver.find_element(By.ID, "more").click()
        before = shown
        WebDriverWait(driver, 30, poll_frequency=0.01).until(lambda d: d.execute_script(count) > before)  # noqa: B023
        shown = driver.execute_script(count)
    return time.perf_counter() - started, shown


def api_pages(url: str) -> list[float]:
    """Seconds per GET /builds page (50, as the page asks), every page in turn, without a browser."""
    import json
    import urllib.request

    times, after = [], None
    while True:
        started = time.perf_counter()
        with urllib.request.urlopen(f"{url}/builds?limit=50" + (f"&next={after}" if after else ""), timeout=30) as resp:
            after = json.load(resp)["next"]
        times.append(time.perf_counter() - started)
        if not after:
            return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--builds", type=int, default=1000)
    parser.add_argument("--loads", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        run_dir = Path(tmp)
        moto = services.start_moto(run_dir / "moto")
        server = None
        try:
            started = time.perf_counter()
            exports = fill_history(moto, run_dir, args.builds)
            print(f"history: {args.builds} builds recorded in {time.perf_counter() - started:.1f} s")
            env = local_stage.child_environment({"PATH": "/usr/bin:/bin"}, exports)
            server = chalice_local.start(env, run_dir / "chalice-local.log")
            driver = chromium.start(run_dir / "profile")
            try:
                loads = [load(driver, server.url) for _ in range(args.loads + 1)][1:]  # the first warms chalice local
                spent, shown = load_all(driver, args.builds)
                pages = api_pages(server.url)
            finally:
                driver.quit()
        finally:
            if server is not None:
                server.stop()
            moto.stop()
    firsts, statuses, walls = zip(*loads, strict=True)
    print(f"first render (build list drawn, ms since navigation start), {len(loads)} loads: "
          f"median {statistics.median(firsts):.0f}, max {max(firsts):.0f} (target <= {TARGET_MS})")
    print(f"pipelines' status drawn (GET /status reads ECS live): median {statistics.median(statuses):.0f} ms, "
          f"max {max(statuses):.0f} ms")
    print(f"wall time from navigation to the drawn list, as selenium sees it: median {statistics.median(walls):.0f} ms")
    print(f"all {shown} builds drawn with 'Load older builds' (pages of 50): {spent:.2f} s; the {len(pages)} "
          f"GET /builds pages alone (no browser): {sum(pages):.2f} s, median {statistics.median(pages) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
