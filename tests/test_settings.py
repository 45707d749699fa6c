"""Stage settings: which functions a stage registers, and one clear error for everything missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib import settings
from chalicelib.errors import SettingsError
from chalicelib.request.branch_filter import BranchFilter
from tests.lambda_app import import_app

CONFIG = json.loads((Path(__file__).parent.parent / ".chalice" / "config.json").read_text())


def stage_env(stage: str) -> dict[str, str]:
    return dict(CONFIG["stages"][stage]["environment_variables"])


def registered(module) -> set[str]:
    """The Lambda functions the stage deploys: Chalice serves every route from one, ``api_handler``."""
    routes = {entry.view_name for methods in module.app.routes.values() for entry in methods.values()}
    return set(module.app.handler_map) - routes | ({"api_handler"} if routes else set())


def route_paths(module) -> set[str]:
    return set(module.app.routes)


def test_dev_stage_registers_only_the_request_functions(monkeypatch):
    assert registered(import_app(monkeypatch, stage_env("dev"))) == {"request", "request_events"}


def test_prod_stage_registers_only_the_pipeline_functions(monkeypatch):
    module = import_app(monkeypatch, stage_env("prod"))
    assert registered(module) == {"build_start", "close", "notify", "history", "reconcile", "api_handler",
                                  "dashboard_auth"}
    assert route_paths(module) == {"/webhooks/github", "/webhooks/gitlab", "/webhooks/bitbucket", "/pipelines",
                                   "/pipelines/{pipeline}/builds", "/pipelines/{pipeline}/rollback", "/builds",
                                   "/builds/{build_id}", "/status", "/dashboard"}
    topics = {s.name: s.topic for s in module.app.event_sources if hasattr(s, "topic")}
    env = stage_env("prod")
    assert topics == {"close": env["CLOSE_TOPIC_ARN"], "notify": env["CLOSE_TOPIC_ARN"],
                      "history": env["CLOSE_TOPIC_ARN"]}
    queues = {s.name: (s.queue_arn, s.batch_size) for s in module.app.event_sources if hasattr(s, "queue_arn")}
    assert queues == {"build_start": (env["WAKE_QUEUE_ARN"], 10)}  # the FIFO request topic wakes it through a queue
    schedules = {s.name: s.schedule_expression.to_string() for s in module.app.event_sources
                 if hasattr(s, "schedule_expression")}
    assert schedules == {"reconcile": f"rate({settings.RECONCILE_EVERY_MINUTES} minutes)"}


def test_all_registers_both_sides_for_one_account(monkeypatch):
    env = stage_env("prod") | stage_env("dev") | {"PUSHDEPLOY_FUNCTIONS": "all"}
    assert registered(import_app(monkeypatch, env)) == {"request", "request_events", "build_start", "close", "notify",
                                                         "history", "reconcile", "api_handler", "dashboard_auth"}


def test_import_reads_no_pipeline_setting_beyond_the_topics_and_the_wake_queue(monkeypatch):
    """Settings other than the event sources (the webhook routes' too) are read at first invocation, not at import."""
    env = {"PUSHDEPLOY_FUNCTIONS": "pipeline", "REQUEST_TOPIC_ARN": stage_env("prod")["REQUEST_TOPIC_ARN"],
           "CLOSE_TOPIC_ARN": stage_env("prod")["CLOSE_TOPIC_ARN"],
           "WAKE_QUEUE_ARN": stage_env("prod")["WAKE_QUEUE_ARN"]}
    assert registered(import_app(monkeypatch, env)) == {"build_start", "close", "notify", "history", "reconcile",
                                                        "api_handler", "dashboard_auth"}


@pytest.mark.parametrize("value, problem", [
    ("", "missing PUSHDEPLOY_FUNCTIONS"),
    ("production", "invalid PUSHDEPLOY_FUNCTIONS: 'production'"),
])
def test_import_without_a_valid_function_set_says_so(monkeypatch, value, problem):
    with pytest.raises(SettingsError, match=problem + r" \(expected one of source, pipeline, all\)"):
        import_app(monkeypatch, {"PUSHDEPLOY_FUNCTIONS": value})


@pytest.mark.parametrize("value, problem", [
    ("", "missing WAKE_QUEUE_ARN (the request topic arn:aws:sns:ap-northeast-1:111122223333:pushdeploy-request.fifo "
         "is FIFO: SNS cannot invoke build_start from it, the wake queue does)"),
    ("arn:aws:sns:ap-northeast-1:111122223333:pushdeploy-wake", "invalid WAKE_QUEUE_ARN: expected an sqs ARN"),
    ("arn:aws:sqs:ap-northeast-1:111122223333:pushdeploy-build.fifo",
     "invalid WAKE_QUEUE_ARN: expected the standard wake queue"),
])
def test_a_fifo_request_topic_needs_a_standard_wake_queue_at_import(monkeypatch, value, problem):
    env = stage_env("prod") | {"WAKE_QUEUE_ARN": value}
    with pytest.raises(SettingsError) as caught:
        import_app(monkeypatch, env)
    assert caught.value.problems[0].startswith(problem)


def test_a_standard_request_topic_still_invokes_build_start_itself(monkeypatch):
    """An install not yet migrated to the FIFO path (docs/builder-pool.md) deploys and runs as before."""
    topic = "arn:aws:sns:ap-northeast-1:111122223333:pushdeploy-request"
    module = import_app(monkeypatch, stage_env("prod") | {"REQUEST_TOPIC_ARN": topic, "WAKE_QUEUE_ARN": ""})
    topics = {s.name: s.topic for s in module.app.event_sources if hasattr(s, "topic")}
    assert topics["build_start"] == topic


@pytest.mark.parametrize("ids, problem", [
    ("i-0123456789abcdef0,builder-2", "invalid BUILDER_INSTANCE_IDS: expected comma-separated instance ids i-<hex>, "
                                      "got 'builder-2'"),
    (" , ", "invalid BUILDER_INSTANCE_IDS: expected comma-separated instance ids i-<hex>, got an empty list"),
    ("i-0123456789abcdef0,i-0123456789abcdef1,i-0123456789abcdef0",
     "invalid BUILDER_INSTANCE_IDS: each builder once, got i-0123456789abcdef0 more than once"),
])
def test_a_bad_builder_pool_is_refused_naming_the_setting(ids, problem):
    with pytest.raises(SettingsError) as caught:
        settings.load_pipeline(stage_env("prod") | {"BUILDER_INSTANCE_IDS": ids})
    [found] = caught.value.problems
    assert found.startswith(problem)


def test_the_builder_pool_and_the_single_builder_of_an_older_stage():
    ids = " i-0123456789abcdef0 , i-00000000000000001"
    pool = settings.load_pipeline(stage_env("prod") | {"BUILDER_INSTANCE_IDS": ids})
    assert pool.builder_instance_ids == ("i-0123456789abcdef0", "i-00000000000000001")
    older = {k: v for k, v in stage_env("prod").items() if k != "BUILDER_INSTANCE_IDS"}
    one = settings.load_pipeline(older | {"BUILDER_INSTANCE_ID": "i-0123456789abcdef0"})
    assert one.builder_instance_ids == ("i-0123456789abcdef0",)
    both = settings.load_pipeline(stage_env("prod") | {"BUILDER_INSTANCE_ID": "i-0fffffffffffffff0"})
    assert both.builder_instance_ids == ("i-0123456789abcdef0", "i-0123456789abcdef1"), "the list wins"


def test_pipeline_import_without_topics_lists_both(monkeypatch):
    with pytest.raises(SettingsError, match="missing REQUEST_TOPIC_ARN, CLOSE_TOPIC_ARN"):
        import_app(monkeypatch, {"PUSHDEPLOY_FUNCTIONS": "pipeline"})


def test_every_missing_pipeline_setting_is_listed_at_once():
    with pytest.raises(SettingsError) as caught:
        settings.load_pipeline({})
    assert str(caught.value).startswith(
        "pushdeploy settings: missing REQUEST_TOPIC_ARN, CLOSE_TOPIC_ARN, BUILDER_INSTANCE_IDS (or "
        "BUILDER_INSTANCE_ID), BUILD_QUEUE_URL, DEAD_LETTER_QUEUE_URL, SLACK_WEBHOOK_PARAMETER (set them in "
        ".chalice/config.json stages.<stage>.environment_variables)")


def test_invalid_values_name_the_setting_and_value():
    env = stage_env("prod") | {"CLOSE_TOPIC_ARN": "arn:aws:sqs:us-east-1:123456789012:close",
                               "BUILDER_INSTANCE_IDS": "", "BUILDER_INSTANCE_ID": "builder-1",
                               "BUILD_QUEUE_URL": "pushdeploy-build",
                               "NOTIFY_TIMEOUT_SECONDS": "soon", "DEAD_LETTER_QUEUE_URL": "dlq",
                               "BUILDER_IDLE_MINUTES": "2", "STALE_REQUEST_MINUTES": "half an hour"}
    with pytest.raises(SettingsError) as caught:
        settings.load_pipeline(env)
    assert caught.value.problems == [
        "invalid CLOSE_TOPIC_ARN: expected an sns ARN, got 'arn:aws:sqs:us-east-1:123456789012:close'",
        "invalid BUILDER_INSTANCE_ID: expected i-<hex>, got 'builder-1'",
        "invalid BUILD_QUEUE_URL: expected https://sqs.<region>.amazonaws.com/<account>/<name>, got 'pushdeploy-build'",
        "invalid DEAD_LETTER_QUEUE_URL: expected https://sqs.<region>.amazonaws.com/<account>/<name>, got 'dlq'",
        "invalid NOTIFY_TIMEOUT_SECONDS: expected seconds between 0 and 60, got 'soon'",
        "invalid BUILDER_IDLE_MINUTES: expected whole minutes from 5 to 1440, got '2'",
        "invalid STALE_REQUEST_MINUTES: expected whole minutes from 5 to 20160, got 'half an hour'",
    ]


def test_the_dead_letter_queue_cannot_be_the_build_queue():
    """The reconcile announces and deletes what it reads there: pointed at the build queue it would eat requests."""
    env = stage_env("prod")
    with pytest.raises(SettingsError, match="invalid DEAD_LETTER_QUEUE_URL: expected the build queue's dead-letter "
                                            "queue, not BUILD_QUEUE_URL itself"):
        settings.load_pipeline(env | {"DEAD_LETTER_QUEUE_URL": env["BUILD_QUEUE_URL"]})


@pytest.mark.parametrize("value", ["4", "1441", "-15", "15.5", "１５", "9" * 50])
def test_idle_threshold_outside_its_range_is_refused(value):
    with pytest.raises(SettingsError, match="invalid BUILDER_IDLE_MINUTES: expected whole minutes from 5 to 1440"):
        settings.load_pipeline(stage_env("prod") | {"BUILDER_IDLE_MINUTES": value})


def test_the_webhook_url_put_where_its_parameter_name_belongs_is_refused_without_quoting_it():
    """An easy mistake: the error is raised by every pipeline function and lands in their logs."""
    url = "https://hooks.slack.com/services/T0001/B0002/s3cr3t-t0k3n"
    with pytest.raises(SettingsError) as caught:
        settings.load_pipeline(stage_env("prod") | {"SLACK_WEBHOOK_PARAMETER": url})
    assert caught.value.problems == [
        "invalid SLACK_WEBHOOK_PARAMETER: expected the name of the SSM parameter that holds the webhook URL, "
        "got a URL (value not shown: the webhook URL is a secret)"]
    assert "s3cr3t" not in str(caught.value)


def test_defaults_for_optional_settings():
    env = stage_env("prod")
    del env["BUILDER_TAG"], env["NOTIFY_TIMEOUT_SECONDS"], env["BUILDER_IDLE_MINUTES"], env["STALE_REQUEST_MINUTES"]
    loaded = settings.load_pipeline(env)
    assert (loaded.builder_tag, loaded.notify_timeout_seconds) == (("pushdeploy:role", "builder"), 5.0)
    assert (loaded.builder_idle_minutes, loaded.stale_request_minutes) == (15, 30)
    assert loaded.dead_letter_queue_url == env["DEAD_LETTER_QUEUE_URL"]


def test_source_settings_from_the_dev_stage():
    loaded = settings.load_source(stage_env("dev"))
    assert loaded.branch_filter.matches("sample", "production")
    assert not loaded.branch_filter.matches("sample", "main")


@pytest.mark.parametrize("text, problem", [
    ("", "missing BRANCH_FILTER"),
    ("{sample", "invalid BRANCH_FILTER: not JSON"),
    ("[]", "invalid BRANCH_FILTER: expected a non-empty JSON object"),
    ('{"sample": []}', "invalid BRANCH_FILTER: 'sample': expected a non-empty list of branch patterns"),
])
def test_branch_filter_problems(text, problem):
    with pytest.raises(SettingsError, match=problem.replace("[", r"\[")):
        settings.load_source(stage_env("dev") | {"BRANCH_FILTER": text})


def test_branch_filter_globs_and_any_repository():
    branch_filter = BranchFilter.parse('{"sample": ["production", "release/*"], "*": ["main"]}')
    assert branch_filter.matches("sample", "release/2026-11")
    assert branch_filter.matches("billing", "main")
    assert not branch_filter.matches("billing", "production")
    assert not branch_filter.matches("sample", "Production")
