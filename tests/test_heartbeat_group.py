"""The heartbeat names the message group a busy agent builds, so a pool knows which pipelines have a builder;
a value written before the pool (no group) still reads as the same beat."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib.builders.heartbeat import AgentBeat, make_beat, parse_beat

SINCE = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 30, 1, 5, tzinfo=UTC)
group_ids = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=128)


def test_a_busy_beat_carries_its_group():
    beat = make_beat("busy", SINCE, NOW, group="octo/app/main")
    assert beat.tag_value() == "busy since=2026-11-30T01:00:00Z beat=2026-11-30T01:05:00Z group=octo/app/main"
    assert parse_beat(beat.tag_value()) == AgentBeat("busy", SINCE, NOW, "octo/app/main")


@pytest.mark.parametrize("value", [
    "busy since=2026-11-30T01:00:00Z beat=2026-11-30T01:05:00Z",
    "idle since=2026-11-30T01:00:00Z beat=2026-11-30T01:05:00Z",
    "starting since=2026-11-30T01:00:00Z beat=2026-11-30T01:05:00.123456Z",
])
def test_a_value_from_before_the_pool_still_parses_without_a_group(value):
    beat = parse_beat(value)
    assert beat is not None and beat.group is None and beat.since == SINCE


def test_a_group_on_a_state_other_than_busy_is_ignored_when_read_and_refused_when_written():
    parsed = parse_beat("idle since=2026-11-30T01:00:00Z beat=2026-11-30T01:05:00Z group=sample/main")
    assert parsed is not None and (parsed.state, parsed.group) == ("idle", None)
    with pytest.raises(ValueError, match="group"):
        make_beat("idle", SINCE, NOW, group="sample/main")


@pytest.mark.parametrize("value", [
    "busy since=2026-11-30T01:00:00Z beat=2026-11-30T01:05:00Z group=",
    "busy since=2026-11-30T01:00:00Z beat=2026-11-30T01:05:00Z group=a b",
    "busy since=2026-11-30T01:00:00Z beat=2026-11-30T01:05:00Z group=" + "x" * 129,
    "busy since=2026-11-30T01:00:00Z beat=2026-11-30T01:05:00Z  group=a",
])
def test_a_garbled_group_reads_as_no_beat(value):
    assert parse_beat(value) is None


@pytest.mark.parametrize("group", ["", "a b", "x" * 129, "ü"])
def test_a_group_the_tag_could_not_carry_is_refused_when_written(group):
    with pytest.raises(ValueError, match="group"):
        make_beat("busy", SINCE, NOW, group=group)


@given(group_ids)
def test_every_sqs_group_id_round_trips_through_the_tag(group):
    beat = make_beat("busy", SINCE, NOW, group=group)
    assert len(beat.tag_value()) <= 256  # EC2's limit for a tag value
    assert parse_beat(beat.tag_value()) == beat
