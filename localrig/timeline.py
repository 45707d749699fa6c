"""A demo run as a picture: one lane per part, each event placed at the time it happened.

``render(events, marks)`` is a pure function from the rig's events (``RigEvent``: when, which part,
what) to the text of a self-contained SVG (no fonts, scripts or styles from elsewhere), so it can
be written next to ``summary.json``, opened offline and tested by parsing it. Steps with a duration
(the builder's ``build ok (1.2s)`` lines, a Lambda invocation's ``returned in 0.05s``) are drawn as
bars ending when they ended; everything else is a dot. Every mark has its full text as a tooltip
(``<title>``); labels that would overlap in a lane are stacked on up to ``LABEL_ROWS`` rows, and
left to the tooltip beyond that.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from xml.sax.saxutils import escape, quoteattr

GIT_HOSTS = ("codecommit", "github", "gitlab", "bitbucket")
LAMBDA_ORDER = ("request", "build_start", "close", "notify", "history", "api_handler")
# the parts in the order a push travels through them; parts not named here follow, in order of appearance
LANE_ORDER = (*GIT_HOSTS, "apigateway", *(f"lambda:{f}" for f in LAMBDA_ORDER), "sns", "ec2", "builder", "ecr",
              "slack")
LANE_TITLES = {"codecommit": "git host: CodeCommit", "github": "git host: GitHub", "gitlab": "git host: GitLab",
               "bitbucket": "git host: Bitbucket", "apigateway": "API (chalice local)", "sns": "SNS",
               "ec2": "EC2 builder instance", "builder": "builder: agent steps", "ecr": "ECR registry",
               "slack": "Slack", "rig": "the rig: setup"}

RIG_STAGES = ("aws", "docker", "cloudformation", "iam", "lambda", "git", "events")
LEFT, RIGHT, TOP, BOTTOM = 190, 30, 70, 40
ROW_HEIGHT, LABEL_ROWS, CHAR_WIDTH = 16, 8, 6.2
LABEL_CHARS = 26
_STEP = re.compile(r"^(?P<name>[\w-]+) (?P<outcome>ok|FAILED) \((?P<seconds>\d+(?:\.\d+)?)s\)")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


class Event(Protocol):
    """What the picture needs of an event (localrig.rig.RigEvent has it)."""

    time: float
    stage: str
    text: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Mark:
    """A moment across every lane: a story began."""

    time: float
    label: str


@dataclass
class _Placed:
    start: float
    end: float
    label: str
    title: str
    kind: str  # dot | ok | failed | lambda


def lane_of(stage: str) -> str:
    """The lane an event's stage is drawn in: one per part (each Lambda function has its own); the rig's own
    setup (moto, the engine, the stack, the Lambda host, the git server) shares one."""
    return "rig" if stage in RIG_STAGES else stage


def lane_order(stages: Iterable[str]) -> list[str]:
    seen = list(dict.fromkeys(lane_of(s) for s in stages))
    known = [lane for lane in LANE_ORDER if lane in seen]
    return known + [lane for lane in seen if lane not in LANE_ORDER]


def lane_title(lane: str) -> str:
    if lane.startswith("lambda:"):
        return f"Lambda: {lane.split(':', 1)[1]}"
    return LANE_TITLES.get(lane, lane)


def _clean(text: str) -> str:
    return _CONTROL.sub("", text)


def _short(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


# (stage prefix, pattern, label template): what a lane's reader needs at a glance; the rest is in the tooltip
_LABELS = (
    ("lambda:", re.compile(r"^invoked by (?P<by>\S+)(?P<retry> \(retry \d+\))?"), "invoked{retry}"),
    ("lambda:", re.compile(r'^returned in (?P<s>[\d.]+)s: "(?P<answer>[^"]*)"'), "{answer}"),
    ("lambda:", re.compile(r"^returned in (?P<s>[\d.]+)s"), "returned"),
    ("lambda:", re.compile(r"^FAILED attempt (?P<n>\d+)"), "FAILED #{n}"),
    ("sns", re.compile(r"^\S+: build request \S+ (?P<sha>\w{7})"), "request {sha}"),
    ("sns", re.compile(r"^\S+: build result \S+ (?P<sha>\w{7})\w* (?P<outcome>\w+)"), "result {sha} {outcome}"),
    ("sns", re.compile(r"^\S+: end of run"), "end of run"),
    ("sns", re.compile(r"^\S+: alert (?P<kind>\S+)"), "alert {kind}"),
    ("ec2", re.compile(r"^builder \S+ (?P<a>[\w-]+) -> (?P<b>[\w-]+)"), "{a} → {b}"),
    ("ec2", re.compile(r"^builder booted"), "agent started"),
    ("ec2", re.compile(r"^agent process ended \(boot \d+, exit (?P<code>-?\d+)"), "agent ended ({code})"),
    ("ec2", re.compile(r"^builder frozen"), "frozen (SIGSTOP)"),
    ("ec2", re.compile(r"^builder resumed"), "resumed"),
    ("ec2", re.compile(r"^agent killed"), "killed (SIGKILL)"),
    ("ec2", re.compile(r"^systemd: agent ended"), "stop hook ran"),
    ("slack", re.compile(r"^notification received: (?::[\w+-]+: )?(?P<head>.*)"), "{head}"),
    ("", re.compile(r"^pushed \S+ (?P<sha>\w{7})"), "push {sha}"),
)


def label(stage: str, text: str) -> str:
    """The short label drawn beside an event (its full text is the tooltip)."""
    for prefix, pattern, template in _LABELS:
        match = pattern.match(text) if stage.startswith(prefix) else None
        if match is not None:
            return _short(template.format(**{k: v or "" for k, v in match.groupdict().items()}))
    return _short(_leading_words(text) if stage == "builder" else text)


def _leading_words(text: str) -> str:
    """An agent line's verb words before its identifiers (``update production-cluster/web: ...`` -> ``update``):
    its lane is the densest, so its labels are the shortest."""
    words: list[str] = []
    for word in text.split()[:3]:
        if any(c in word for c in "/=(@") or ":" in word[:-1]:
            break
        words.append(word.rstrip(":"))
        if word.endswith(":"):
            break
    return " ".join(words) or text


def place(event: Event) -> _Placed:
    """Where an event sits on its lane: a bar for a timed step or invocation, a dot otherwise."""
    text = _clean(event.text)
    step = _STEP.match(text) if event.stage == "builder" else None
    if step is not None:
        seconds = float(step.group("seconds"))
        kind = "ok" if step.group("outcome") == "ok" else "failed"
        return _Placed(event.time - seconds, event.time, f"{step.group('name')} {step.group('outcome')}", text, kind)
    seconds = event.data.get("seconds") if event.stage.startswith("lambda:") else None
    if isinstance(seconds, int | float) and event.data.get("kind") == "result":
        return _Placed(event.time - float(seconds), event.time, label(event.stage, text), text, "lambda")
    failed = "FAILED" in text or " failed" in text
    return _Placed(event.time, event.time, label(event.stage, text), text, "failed" if failed else "dot")


def _tick_step(span: float, scale: float) -> float:
    """A round number of seconds between axis ticks, about 100 pixels apart."""
    for step in (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600):
        if step * scale >= 100:
            return step
    return max(600.0, math.ceil(span / 10))


def render(events: Sequence[Event], marks: Sequence[Mark] = (), title: str = "pushdeploy demo run",
           scale: float = 40.0) -> str:
    """The SVG text of a timeline of ``events`` (any order: they are placed by their own ``time``);
    ``scale`` is pixels per second."""
    ordered = sorted(events, key=lambda e: e.time)
    if not ordered:
        return _document(400, 120, [f'<text x="10" y="40">{escape(title)}: no events</text>'])
    origin = min([ordered[0].time, *(m.time for m in marks)])
    placed = {id(e): place(e) for e in ordered}
    origin = min(origin, *(p.start for p in placed.values()))
    span = max(max(p.end for p in placed.values()), *(m.time for m in marks), origin + 1) - origin

    def x(moment: float) -> float:
        return round(LEFT + (moment - origin) * scale, 1)

    heading = (f"{title} — from {datetime.fromtimestamp(origin, UTC).strftime('%Y-%m-%d %H:%M:%S UTC')}; "
               "each event at the time its own record gives (hover for the full text)")
    width = int(max(x(origin + span) + RIGHT + LABEL_CHARS * CHAR_WIDTH, 20 + len(heading) * 7.2))
    body: list[str] = []
    y = TOP
    for lane in lane_order(e.stage for e in ordered):
        members = [e for e in ordered if lane_of(e.stage) == lane]
        svg, height = _lane(lane, [(e, placed[id(e)]) for e in members], x, y, width)
        body.append(svg)
        y += height
    height = y + BOTTOM
    body.insert(0, _axis(origin, span, scale, x, height, width))
    body += [_mark(m, x(m.time), height) for m in marks]
    body.insert(0, f'<text class="title" x="10" y="22">{escape(heading)}</text>')
    return _document(width, height, body)


def _lane(lane: str, members: list[tuple[Event, _Placed]], x: Any, top: float, width: int) -> tuple[str, float]:
    """Each event on the first row of its lane where nothing drawn yet reaches its start; with all ``LABEL_ROWS``
    taken, on the row that frees first, without a label (the tooltip has it)."""
    row_ends: list[float] = []
    parts: list[str] = []
    for event, spot in members:
        x0, x1 = x(spot.start), x(spot.end)
        row = next((r for r, end in enumerate(row_ends) if end < x0), None)
        if row is None and len(row_ends) < LABEL_ROWS:
            row_ends.append(-math.inf)
            row = len(row_ends) - 1
        labelled = row is not None
        if row is None:
            row = min(range(len(row_ends)), key=row_ends.__getitem__)
        mid = top + ROW_HEIGHT * row + ROW_HEIGHT / 2
        parts.append(_event_svg(event, spot, x0, x1, mid, labelled))
        reach = x1 + 6 + len(spot.label) * CHAR_WIDTH + 6 if labelled else x1 + 4
        row_ends[row] = max(row_ends[row], reach)
    height = ROW_HEIGHT * max(1, len(row_ends)) + 10
    head = (f'<g class="lane" data-lane={quoteattr(lane)}>'
            f'<rect class="band" x="0" y="{top}" width="{width}" height="{height}"/>'
            f'<text class="lane-title" x="8" y="{top + 14}">{escape(lane_title(lane))}</text>')
    return head + "".join(parts) + "</g>", height


def _event_svg(event: Event, spot: _Placed, x0: float, x1: float, mid: float, labelled: bool) -> str:
    moment = datetime.fromtimestamp(event.time, UTC).strftime("%H:%M:%S.%f")[:-3]
    attrs = (f'class="event {spot.kind}" data-time="{event.time:.3f}" data-stage={quoteattr(event.stage)} '
             f'data-x="{x1}"')
    tip = f"<title>{escape(f'{moment}Z {event.stage}: {spot.title}')}</title>"
    if spot.end > spot.start:
        shape = f'<rect x="{x0}" y="{mid - 5}" width="{max(x1 - x0, 2)}" height="10" rx="2"/>'
        anchor = x1
    else:
        shape = f'<circle cx="{x0}" cy="{mid}" r="4"/>'
        anchor = x0
    label = f'<text x="{anchor + 6}" y="{mid + 4}">{escape(spot.label)}</text>' if labelled else ""
    return f"<g {attrs}>{tip}{shape}{label}</g>"


def _axis(origin: float, span: float, scale: float, x: Any, height: float, width: int) -> str:
    step = _tick_step(span, scale)
    ticks = []
    for n in range(int(span // step) + 1):
        at = x(origin + n * step)
        ticks.append(f'<line class="tick" x1="{at}" y1="{TOP - 6}" x2="{at}" y2="{height - BOTTOM}"/>'
                     f'<text class="tick-label" x="{at}" y="{TOP - 10}">+{n * step:g}s</text>')
    return f'<g class="axis"><line x1="{LEFT}" y1="{TOP - 6}" x2="{width - RIGHT}" y2="{TOP - 6}"/>{"".join(ticks)}</g>'


def _mark(mark: Mark, at: float, height: float) -> str:
    return (f'<g class="mark" data-time="{mark.time:.3f}"><line x1="{at}" y1="30" x2="{at}" y2="{height - BOTTOM}"/>'
            f'<text x="{at + 4}" y="44">{escape(mark.label)}</text></g>')


_STYLE = """
text { font-family: monospace; font-size: 11px; fill: #222; }
.title { font-size: 13px; font-weight: bold; }
.lane-title { font-weight: bold; }
.lane:nth-of-type(odd) .band { fill: #f4f6f8; } .lane:nth-of-type(even) .band { fill: #ffffff; }
.axis line { stroke: #888; } .tick { stroke: #ddd; } .tick-label { fill: #666; text-anchor: middle; }
.mark line { stroke: #7a4fd0; stroke-dasharray: 4 3; } .mark text { fill: #7a4fd0; font-weight: bold; }
.event circle { fill: #3a6ea5; } .event.failed circle, .event.failed rect { fill: #c62828; }
.event.ok rect { fill: #2e7d32; } .event.lambda rect { fill: #ef8f00; }
"""


def _document(width: float, height: float, body: list[str]) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}"><style>{_STYLE}</style>'
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>{"".join(body)}</svg>\n')
