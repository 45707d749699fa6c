"""What the demo shows and leaves behind: events narrated in the order they happened (stamped with that time), the
Slack message whole, story rows that say what happened, the timeline picture written next to summary.json with
its path printed; and Ctrl-C still stops the rig completely, even if the user presses it again."""

import io
import json
import os
import re
import signal
import time
import xml.etree.ElementTree as ET

from localrig.demo import Narrator, _finish, _Story, stop_shielded, what_happened
from localrig.rig import RigEvent
from localrig.stories import Check, StoryReport


class _RigInterruptedWhileStopping:
    """Stands in for LocalRig: a second Ctrl-C arrives (a real SIGINT) while it is stopping."""

    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        self.stopped = True


def test_a_second_ctrl_c_does_not_cut_the_rig_s_stop_short():
    rig = _RigInterruptedWhileStopping()
    before = signal.getsignal(signal.SIGINT)

    stop_shielded(rig)

    assert rig.stopped
    assert signal.getsignal(signal.SIGINT) is before, "Ctrl-C works again once the rig is stopped"


# ---------------------------------------------------------------- what the demo shows and writes

T0 = 1_800_000_000.0


def _stamps_and_stages(text: str) -> list[tuple[float, str]]:
    """(seconds, stage) of each narrated line: ``[+   1.2s] stage  text``."""
    found = (re.match(r"^\[\+\s*(-?[\d.]+)s\] (\S+)", line) for line in text.splitlines())
    return [(float(m.group(1)), m.group(2)) for m in found if m]


def test_the_narration_prints_events_in_the_order_they_happened_stamped_with_that_time():
    out = io.StringIO()
    narrator = Narrator(out, window=60)  # nothing leaves the window by itself: the flush decides
    narrator.started = T0
    for at, stage in [(4.1, "slack"), (3.9, "builder"), (0.0, "codecommit"), (4.0, "sns"), (0.2, "lambda:request")]:
        narrator(RigEvent(T0 + at, stage, "x", seen=T0 + 5))

    narrator.close()

    assert _stamps_and_stages(out.getvalue()) == [(0.0, "codecommit"), (0.2, "lambda:request"), (3.9, "builder"),
                                                  (4.0, "sns"), (4.1, "slack")]
    assert narrator.printed_late == 0 and narrator.lateness == 5.0


def test_the_narration_holds_events_back_while_a_push_is_under_way():
    out = io.StringIO()
    pushing = [time.time() - 10]  # a `git push` began 10 s ago and has not returned
    narrator = Narrator(out, window=0.0, hold=lambda: pushing[0])
    narrator(RigEvent(pushing[0] + 0.5, "lambda:request", "invoked by codecommit"))  # its hook's invocation
    deadline = time.monotonic() + 1
    while time.monotonic() < deadline and not out.getvalue():
        time.sleep(0.02)  # the narrator's ticker would print within 0.1 s if it did not hold
    assert out.getvalue() == ""

    narrator(RigEvent(pushing[0], "codecommit", "pushed sample@production 0123456789ab"))
    pushing[0] = None
    narrator.close()

    assert [stage for _, stage in _stamps_and_stages(out.getvalue())] == ["codecommit", "lambda:request"]


def test_the_slack_message_is_shown_whole():
    out = io.StringIO()
    narrator = Narrator(out)
    message = ":white_check_mark: Deployed: sample/production\n*Outcome* succeeded\n*Commit* `abc1234` fix"
    narrator(RigEvent(time.time(), "slack", "notification received: :white_check_mark: Deployed: sample/production",
                      {"message": message}))
    narrator.close()

    lines = out.getvalue().splitlines()
    assert lines[0].endswith("notification received: :white_check_mark: Deployed: sample/production")
    assert [line.split("| ", 1)[1] for line in lines[1:]] == ["*Outcome* succeeded", "*Commit* `abc1234` fix"]


def _push(at: float, sha: str) -> RigEvent:
    return RigEvent(at, "codecommit", f"pushed sample@production {sha}")


def _result(at: float, outcome: str = "succeeded") -> RigEvent:
    return RigEvent(at, "sns", f"pushdeploy-close: build result ... {outcome}", {"outcome": outcome})


STORY_2 = [_push(T0, "aaaaaaaaaaaa"), RigEvent(T0 + 2, "builder", "source ok (0.1s)"),
           _push(T0 + 3, "bbbbbbbbbbbb"), _push(T0 + 4, "cccccccccccc"), _push(T0 + 5, "dddddddddddd"),
           _result(T0 + 8), RigEvent(T0 + 9, "builder", "source ok (0.1s)"), _result(T0 + 12)]


def test_story_2_reads_as_what_happened():
    assert what_happened(STORY_2) == "3 pushes during a build, then 1 more build"
    assert what_happened([_push(T0, "a" * 12), _result(T0 + 3, "failed")]) == "1 push, 1 build"
    # pushes that all landed before the build began were not during it
    early = [_push(T0, "a" * 12), _push(T0 + 0.5, "b" * 12), RigEvent(T0 + 2, "builder", "x"), _result(T0 + 5)]
    assert what_happened(early) == "2 pushes, 1 build"


def test_the_run_writes_its_timeline_next_to_the_summary_and_prints_its_path(tmp_path):
    report = StoryReport("2. push 3 commits while a build runs", pushes=["a", "b", "c", "d"],
                         checks=[Check("two builds", True, "2")])
    out = io.StringIO()
    arrived = [STORY_2[i] for i in (5, 0, 7, 2, 1, 6, 4, 3)]  # out of order, as the rig learns of them

    _finish(tmp_path, [_Story(report, "story 2: ...", T0 - 1, T0 + 13)], arrived, out, error="")

    printed = out.getvalue()
    picture = tmp_path / "timeline.svg"
    assert f"timeline: {picture}" in printed
    assert (tmp_path / "summary.json").exists() and picture.exists()
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["stories"][0]["what_happened"] == "3 pushes during a build, then 1 more build"
    assert "3 pushes during a build, then 1 more build" in printed
    svg = ET.parse(picture).getroot()
    drawn = [float(g.get("data-time")) for g in svg.iter("{http://www.w3.org/2000/svg}g")
             if (g.get("class") or "").startswith("event")]
    assert sorted(drawn) == sorted(e.time for e in STORY_2)
    kept = [json.loads(line)["time"] for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert len(kept) == len(STORY_2)
