"""GET /builds pages through history newest first, for one pipeline or all, with an opaque next token; bad
input is a 400 naming the parameter."""

from __future__ import annotations

from urllib.parse import quote

from tests.history_rig import HistoryApp, env, make_table, result


def pages(app: HistoryApp, query: str) -> list[list[str]]:
    found, token = [], None
    while True:
        status, body = app.get(f"/builds?{query}" + (f"&next={token}" if token else ""))
        assert status == 200, body
        found.append([b["build_id"] for b in body["builds"]])
        token = body["next"]
        if not token:
            return found


def test_every_build_once_newest_first_in_pages_of_limit(aws, monkeypatch, tmp_path):
    app = HistoryApp(monkeypatch, tmp_path, env(make_table(aws)))
    sample = [result(n) for n in range(23)]
    other = [result(n, "octo/app/main") for n in range(23, 30)]
    for build in sample[:10] + other + sample[10:]:  # delivered out of order: order comes from started_at
        app.deliver(build)

    everything = pages(app, "limit=10")
    only_sample = pages(app, f"pipeline={quote('sample/production', safe='')}&limit=10")

    newest_first = [b.build_id for b in reversed(sample + other)]
    assert sum(everything, []) == newest_first
    assert [len(p) for p in everything][:3] == [10, 10, 10]
    assert sum(only_sample, []) == [b.build_id for b in reversed(sample)]
    assert [len(p) for p in only_sample][:3] == [10, 10, 3]


def test_the_default_page_is_20(aws, monkeypatch, tmp_path):
    app = HistoryApp(monkeypatch, tmp_path, env(make_table(aws)))
    for n in range(25):
        app.deliver(result(n))

    status, body = app.get("/builds")

    assert status == 200 and len(body["builds"]) == 20 and body["next"]


def test_bad_parameters_are_400_naming_them(aws, monkeypatch, tmp_path):
    app = HistoryApp(monkeypatch, tmp_path, env(make_table(aws)))
    for n in range(3):
        app.deliver(result(n))
    _, first = app.get("/builds?limit=1")

    answers = {query: app.get(f"/builds?{query}") for query in (
        "limit=0", "limit=101", "limit=ten", "next=bm90IGEgdG9rZW4", "pipeline=nobranch", "colour=red",
        f"pipeline=sample%2Fproduction&next={first['next']}")}  # a token of the all-pipelines listing

    assert {q: (status, body.get("field")) for q, (status, body) in answers.items()} == {
        "limit=0": (400, "limit"), "limit=101": (400, "limit"), "limit=ten": (400, "limit"),
        "next=bm90IGEgdG9rZW4": (400, "next"), "pipeline=nobranch": (400, "pipeline"), "colour=red": (400, "colour"),
        f"pipeline=sample%2Fproduction&next={first['next']}": (400, "next")}
