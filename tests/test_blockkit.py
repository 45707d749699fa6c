"""Block Kit texts are cut to Slack's limits with a visible marker, never into invalid mrkdwn."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from chalicelib.notify import blockkit
from chalicelib.notify.blockkit import TRUNCATED, code_block, truncate_mrkdwn, truncate_plain, units


def test_text_within_the_limit_is_unchanged():
    assert truncate_plain("x" * 150, 150) == "x" * 150
    assert truncate_mrkdwn("*a* <https://x|y>", 3000) == "*a* <https://x|y>"


def test_cut_text_ends_with_the_marker_and_fits():
    cut = truncate_plain("x" * 151, 150)
    assert cut.endswith(TRUNCATED) and units(cut) == 150


def test_emoji_outside_the_bmp_count_two_units_as_slack_counts_them():
    cut = truncate_plain("😀" * 100, 150)
    assert units(cut) <= 150 and cut.endswith(TRUNCATED)


def test_mrkdwn_is_not_cut_inside_a_link_an_entity_or_inline_code():
    assert truncate_mrkdwn("see <https://example.com/" + "a" * 50 + "|link>", 30) == "see " + TRUNCATED
    assert truncate_mrkdwn("x" * 14 + "&amp; tail " * 5, 30) == "x" * 14 + TRUNCATED
    assert truncate_mrkdwn("a `" + "b" * 40 + "`", 30) == "a " + TRUNCATED


def test_a_code_block_stays_closed_and_a_fence_inside_cannot_close_it():
    text = code_block("*Reason*\n", "x" * 5000 + "```", 3000)
    assert units(text) <= 3000 and text.startswith("*Reason*\n```") and text.endswith(TRUNCATED + "```")
    assert code_block("", "a```b").count("```") == 2


def test_too_many_fields_and_blocks_say_how_many_were_left_out():
    section = blockkit.fields([f"f{i}" for i in range(12)])
    assert len(section["fields"]) == 10 and section["fields"][-1]["text"] == f"3 more fields{TRUNCATED}"
    payload = blockkit.message("t", [blockkit.section(f"s{i}") for i in range(60)])
    assert len(payload["blocks"]) == 50 and payload["blocks"][-1]["text"]["text"] == f"11 more blocks{TRUNCATED}"
    assert blockkit.problems(payload) == []


@given(st.text(), st.integers(min_value=len(TRUNCATED) + 2, max_value=400))
def test_any_text_fits_its_limit_after_truncation(text, limit):
    for cut in (truncate_plain(text, limit), truncate_mrkdwn(text, limit), code_block("*R*\n", text, limit + 10)):
        assert units(cut) <= limit + 10
    assert units(truncate_mrkdwn(text, limit)) <= limit
