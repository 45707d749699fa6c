"""A history record holds what issue 10 asks of it (docs/api.md "Build history"): pipeline, trigger and who
asked; commits with authors and subjects; the outcome; the image with its digest; each service's revision before
and after; each step's duration; the failure reason and the log link. Read back through GET /builds/{build_id}."""

from __future__ import annotations

from tests.history_rig import TD, HistoryApp, env, make_table, result


def test_a_failed_build_s_record_holds_everything_the_result_said(aws, monkeypatch, tmp_path):
    app = HistoryApp(monkeypatch, tmp_path, env(make_table(aws)))
    build = result(7, outcome="rolled_back", error="web did not reach a steady state; rolled back web")
    app.deliver(build)

    status, record = app.get(f"/builds/{build.build_id}")

    assert status == 200
    assert {k: record[k] for k in ("build_id", "pipeline", "repository", "branch", "trigger", "requested_by",
                                   "action", "outcome", "commit", "error", "builder_instance_id")} == {
        "build_id": build.build_id, "pipeline": "sample/production", "repository": "sample", "branch": "production",
        "trigger": "github", "requested_by": "octocat", "action": "build", "outcome": "rolled_back",
        "commit": build.commit, "error": "web did not reach a steady state; rolled back web",
        "builder_instance_id": "i-0123456789abcdef0"}
    assert record["commits"] == [{"sha": build.commit, "subject": "Change number 7",
                                  "author": "Alice <alice@example.com>"}]
    assert record["image"] == {"reference": build.image.reference, "tag": build.image.tag,
                               "digest": "sha256:" + "ab" * 32}
    assert record["services"] == [{"cluster": "production-cluster", "service": "web", "before": TD.format(8),
                                   "after": TD.format(9)}]
    assert [(s["name"], s["seconds"], s["ok"]) for s in record["steps"]] == [
        ("source", 0.5, True), ("login", 1.5, True), ("build", 2.5, True), ("push", 3.5, True),
        ("register", 4.5, True), ("update", 5.5, True), ("rollout_wait", 3.0, False)]
    assert record["steps"][0]["started_at"] == build.steps[0].started_at
    assert (record["started_at"], record["finished_at"], record["duration_seconds"]) == (
        build.started_at, build.finished_at, 42.0)
    assert record["log"]["group"] == "/pushdeploy/builds" and record["log"]["stream"] == "sample/production/7"
    assert record["log"]["url"].startswith("https://us-east-1.console.aws.amazon.com/cloudwatch/home?region=us-east-1")
    assert record["recorded_at"].endswith("Z")


def test_unknown_and_malformed_build_ids(aws, monkeypatch, tmp_path):
    app = HistoryApp(monkeypatch, tmp_path, env(make_table(aws)))

    missing_status, missing = app.get("/builds/0123456789abcdef0123456789abcdef")
    bad_status, bad = app.get("/builds/not%20an%20id")

    assert missing_status == 404 and "unknown build" in missing["error"]
    assert (bad_status, bad["field"]) == (400, "build_id")


def test_without_the_table_setting_the_routes_answer_500_naming_it(aws, monkeypatch, tmp_path):
    settings = env("unused")
    del settings["BUILD_HISTORY_TABLE"]
    app = HistoryApp(monkeypatch, tmp_path, settings)

    status, body = app.get("/builds")

    assert status == 500 and "BUILD_HISTORY_TABLE" in body["error"]
