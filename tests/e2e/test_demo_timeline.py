"""`make demo`'s run, shortened to story 1 on the real rig: it writes timeline.svg next to summary.json and prints
its path, the narration is in happened order (the Slack line after the `push ok` that led to it), the picture
has a lane for each part the push went through, and the Slack message is shown whole. Before the rig stops, the
dashboard under `chalice local` is pictured in headless Chromium once it lists the run's builds with their step
bars: dashboard.png next to timeline.svg, its path printed."""

import io
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from localrig import demo
from tests import chromium

pytestmark = pytest.mark.e2e

SVG = "{http://www.w3.org/2000/svg}"
LINE = re.compile(r"^\[\+\s*(-?\d+\.\d)s\] (\S+)\s+(.*)$")


@pytest.fixture(scope="module")
def story_1_run(tmp_path_factory, docker_engine, base_image):
    out = io.StringIO()
    status = demo.run_demo(tmp_path_factory.mktemp("demo"), out, engine=docker_engine,
                           stories_to_run=demo.STORIES[:1])
    return status, out.getvalue()


def test_the_run_writes_the_timeline_next_to_the_summary_and_prints_its_path(story_1_run):
    status, printed = story_1_run
    assert status == 0, printed[-3000:]
    [path] = re.findall(r"^timeline: (\S+)", printed, re.M)
    picture = Path(path)
    assert picture.name == "timeline.svg" and (picture.parent / "summary.json").exists()
    root = ET.parse(picture).getroot()
    lanes = [g.get("data-lane") for g in root.iter(f"{SVG}g") if g.get("class") == "lane"]
    lanes = [lane for lane in lanes if lane != "apigateway"]  # chalice local, started only for the dashboard
    assert lanes[:9] == ["codecommit", "lambda:request", "lambda:build_start", "lambda:close", "lambda:notify",
                         "lambda:history", "sns", "ec2", "builder"]
    assert "slack" in lanes
    summary = json.loads((picture.parent / "summary.json").read_text())
    assert summary["stories"][0]["what_happened"] == "1 push, 1 build"
    assert summary["narration"]["printed_out_of_order"] == 0


def test_the_narration_is_in_happened_order_and_slack_comes_after_the_push_that_led_to_it(story_1_run):
    _, printed = story_1_run
    lines = [m.groups() for m in map(LINE.match, printed.splitlines()) if m]
    stamps = [float(stamp) for stamp, _, _ in lines]
    assert stamps == sorted(stamps)
    order = [(stage, text) for _, stage, text in lines]
    pushed = next(i for i, (stage, text) in enumerate(order) if stage == "builder" and text.startswith("push ok"))
    result = next(i for i, (stage, text) in enumerate(order) if stage == "sns" and "build result" in text)
    slack = next(i for i, (stage, _) in enumerate(order) if stage == "slack")
    assert pushed < result < slack


def test_the_slack_message_is_shown_whole(story_1_run):
    _, printed = story_1_run
    after = printed.split("notification received:", 1)[1].splitlines()
    shown = [line.split("| ", 1)[1] for line in after[1:] if line.lstrip().startswith("|")]
    assert any("*Outcome* succeeded" in line for line in shown)
    assert any("*Commit*" in line for line in shown)
    assert any("Build log" in line for line in shown)  # the context line's links, by their labels


def test_the_run_pictures_the_dashboard_listing_its_builds_next_to_the_timeline(story_1_run):
    chromium.chromium_present()
    status, printed = story_1_run
    assert status == 0, printed[-3000:]
    assert "[ok  ] the dashboard lists the 1 build the stories made, each with its step bars" in printed
    [path] = re.findall(r"^dashboard: (\S+)", printed, re.M)
    picture = Path(path)
    assert picture.name == "dashboard.png" and (picture.parent / "timeline.svg").exists()
    assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and picture.stat().st_size > 10_000
    [url] = re.findall(r"^dashboard URL .*: (http://\S+/dashboard)$", printed, re.M)
    summary = json.loads((picture.parent / "summary.json").read_text())
    assert summary["dashboard"] == {"url": url, "picture": path, "ok": True,
                                    "observed": "1 of 1 listed with their step bars"}
