"""The builder's step lines carry their UTC time, so they can be read beside other services' records (the rig's
timeline, CloudWatch); a person's deploy command keeps the short ``[   4.2s] text`` line."""

from agent.progress import Progress, read_stamp, utc_stamp

WALL = 1_795_993_445.123  # 2026-11-29T23:04:05.123Z


def _ticking(start: float, step: float):
    now = [start - step]

    def clock() -> float:
        now[0] += step
        return now[0]
    return clock


def test_a_builder_line_carries_the_utc_time_it_was_written_and_reads_back():
    lines: list[str] = []
    progress = Progress(out=lines.append, clock=_ticking(100.0, 2.0), wall=lambda: WALL)

    progress.line("source ok (0.1s) commit=abc1234")

    assert lines == ["[    2.0s 2026-11-29T23:04:05.123Z] source ok (0.1s) commit=abc1234"]
    at, text = read_stamp(lines[0])
    assert text == "source ok (0.1s) commit=abc1234"
    assert abs(at - WALL) < 0.0005


def test_without_a_wall_clock_the_line_is_the_short_one_and_has_no_stamp():
    lines: list[str] = []
    Progress(out=lines.append, clock=_ticking(0.0, 4.2)).line("build ok (4.0s)")

    assert lines == ["[    4.2s] build ok (4.0s)"]
    assert read_stamp(lines[0]) == (None, lines[0])


def test_stamps_keep_three_digits_of_milliseconds():
    assert utc_stamp(1_795_993_445.0) == "2026-11-29T23:04:05.000Z"
    assert read_stamp(f"[    0.0s {utc_stamp(1_795_993_445.0)}] x")[0] == 1_795_993_445.0
