"""The demo's timeline picture: one lane per part, each event placed by the time it happened, read back as XML."""

import xml.etree.ElementTree as ET

import pytest

from localrig.rig import RigEvent
from localrig.timeline import LEFT, Mark, render

SVG = "{http://www.w3.org/2000/svg}"
T0 = 1_800_000_000.0

# one push, in the order the rig LEARNS of it (agent lines and journal records arrive late), not as it happened
ARRIVED = [
    RigEvent(T0 + 0.00, "codecommit", "pushed sample@production 0123456789ab"),
    RigEvent(T0 + 4.10, "slack", "notification received: sample/production: build succeeded"),
    RigEvent(T0 + 0.05, "lambda:request", "invoked by codecommit"),
    RigEvent(T0 + 0.15, "lambda:request", "returned in 0.08s: {}", {"kind": "result", "seconds": 0.08}),
    RigEvent(T0 + 0.10, "sns", "pushdeploy-request: build request sample/production 0123456789ab (codecommit)"),
    RigEvent(T0 + 0.30, "lambda:build_start", "invoked by sns:pushdeploy-request"),
    RigEvent(T0 + 2.40, "builder", "build ok (1.5s) pipeline=sample/production"),
    RigEvent(T0 + 0.50, "ec2", "builder i-1 stopped -> running"),
    RigEvent(T0 + 1.20, "builder", "source ok (0.4s) commit=0123456"),
    RigEvent(T0 + 3.90, "builder", "push ok (1.1s) image=production/sample:x"),
    RigEvent(T0 + 4.00, "sns", "pushdeploy-close: build result sample/production 0123456789ab succeeded"),
    RigEvent(T0 + 4.05, "lambda:notify", "invoked by sns:pushdeploy-close"),
]


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def lanes(root: ET.Element) -> list[ET.Element]:
    return [g for g in root.iter(f"{SVG}g") if (g.get("class") or "") == "lane"]


def events_of(lane: ET.Element) -> list[ET.Element]:
    return [g for g in lane.iter(f"{SVG}g") if (g.get("class") or "").startswith("event")]


def test_each_event_is_in_its_part_s_lane_and_the_lanes_follow_a_push_s_path():
    root = parse(render(ARRIVED))

    order = [lane.get("data-lane") for lane in lanes(root)]
    assert order == ["codecommit", "lambda:request", "lambda:build_start", "lambda:notify", "sns", "ec2",
                     "builder", "slack"]
    for lane in lanes(root):
        stages = {e.get("data-stage") for e in events_of(lane)}
        assert stages == {lane.get("data-lane")}
    assert sum(len(events_of(lane)) for lane in lanes(root)) == len(ARRIVED)


def test_events_are_placed_by_their_own_time_whatever_order_they_arrived_in():
    root = parse(render(ARRIVED))

    placed = [(float(e.get("data-time")), float(e.get("data-x"))) for lane in lanes(root) for e in events_of(lane)]
    by_time = sorted(placed)
    assert [x for _, x in by_time] == sorted(x for _, x in by_time), "later events are further right"
    for lane in lanes(root):
        times = [float(e.get("data-time")) for e in events_of(lane)]
        assert times == sorted(times), f"{lane.get('data-lane')} is drawn in happened order"
    push = next(e for lane in lanes(root) for e in events_of(lane) if e.get("data-stage") == "codecommit")
    slack = next(e for lane in lanes(root) for e in events_of(lane) if e.get("data-stage") == "slack")
    assert float(push.get("data-x")) < float(slack.get("data-x"))


def test_a_timed_step_is_a_bar_that_ends_when_the_step_ended():
    scale = 50.0
    root = parse(render(ARRIVED, scale=scale))

    build = next(e for lane in lanes(root) for e in events_of(lane) if "build ok" in e.find(f"{SVG}title").text)
    bar = build.find(f"{SVG}rect")
    assert bar is not None
    assert float(bar.get("width")) == pytest.approx(1.5 * scale, abs=0.2)
    ended = float(bar.get("x")) + float(bar.get("width"))
    # the earliest thing drawn is the push at T0, at the left edge of the time axis
    assert ended == pytest.approx(LEFT + 2.40 * scale, abs=0.2)


def test_the_full_text_and_the_utc_time_are_in_each_event_s_tooltip():
    root = parse(render(ARRIVED))

    tips = [e.find(f"{SVG}title").text for lane in lanes(root) for e in events_of(lane)]
    assert any(tip.endswith("pushdeploy-close: build result sample/production 0123456789ab succeeded")
               for tip in tips)
    assert all(tip[:12].count(":") == 2 and tip[12] == "Z" for tip in tips)  # HH:MM:SS.mmmZ


def test_story_marks_are_drawn_at_their_time():
    root = parse(render(ARRIVED, [Mark(T0 - 1, "story 1")], scale=10))

    marks = [g for g in root.iter(f"{SVG}g") if g.get("class") == "mark"]
    assert [m.find(f"{SVG}text").text for m in marks] == ["story 1"]
    assert float(marks[0].find(f"{SVG}line").get("x1")) == pytest.approx(LEFT)  # the earliest moment drawn


def test_the_picture_is_self_contained_and_survives_control_characters():
    text = render([RigEvent(T0, "builder", "docker said \x1b[31mred\x1b[0m <b>&</b>")])
    root = parse(text)

    assert not [el for el in root.iter() if el.tag.endswith("script") or el.tag.endswith("image")]
    assert not any(v.startswith(("http:", "https:", "//")) for el in root.iter() for k, v in el.attrib.items()
                   if k.endswith("href"))
    assert "@import" not in text and "url(" not in text


def test_no_events_is_still_a_picture():
    assert parse(render([])).tag == f"{SVG}svg"


def test_labels_in_a_busy_lane_never_overlap():
    busy = [RigEvent(T0 + n * 0.05, "builder", f"step{n} ok (0.01s) pipeline=sample/production") for n in range(40)]
    root = parse(render(busy, scale=40))

    [lane] = lanes(root)
    drawn = [(float(t.get("y")), float(t.get("x")), t.text) for e in events_of(lane) for t in e.findall(f"{SVG}text")]
    assert drawn, "some labels are drawn"
    for (y1, x1, text), (y2, x2, _) in zip(sorted(drawn), sorted(drawn)[1:], strict=False):
        if y1 == y2:
            assert x2 >= x1 + len(text) * 6.2, f"{text!r} overlaps the next label on its row"
