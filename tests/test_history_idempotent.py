"""The history function records each build once: SNS delivers at least once, and a redelivered result (or an
agent republishing it) must change nothing, not even the record's recorded_at."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.contracts import EndOfRun, utc_now
from tests.history_rig import HistoryApp, env, items, make_table, result


def test_the_same_result_twice_is_one_record_left_as_first_written(aws, monkeypatch, tmp_path):
    table = make_table(aws)
    app = HistoryApp(monkeypatch, tmp_path, env(table))
    build = result(1)

    first = app.deliver(build)
    written = items(aws, table)
    second = app.deliver(build)

    assert (first, second) == ("recorded", "duplicate")
    assert items(aws, table) == written and len(written) == 1


def test_a_result_from_an_agent_without_build_ids_is_recorded_once_too(aws, monkeypatch, tmp_path):
    table = make_table(aws)
    app = HistoryApp(monkeypatch, tmp_path, env(table))
    old = replace(result(2, build_id=None), steps=())

    assert [app.deliver(old), app.deliver(old)] == ["recorded", "duplicate"]
    [item] = items(aws, table)
    assert item["build_id"]["S"].startswith("legacy-")


def test_two_builds_are_two_records_and_other_close_messages_none(aws, monkeypatch, tmp_path):
    table = make_table(aws)
    app = HistoryApp(monkeypatch, tmp_path, env(table))

    end = EndOfRun("i-0123456789abcdef0", utc_now()).to_json()
    answers = [app.deliver(result(3)), app.deliver(result(3)), app.deliver(end),
               app.deliver('{"AlarmName": "pushdeploy-close-errors"}')]

    assert answers == ["recorded", "recorded", "ignored", "ignored"]
    assert len(items(aws, table)) == 2
