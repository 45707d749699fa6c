"""Stage settings, read from the environment variables Chalice sets per stage.

Read when a handler first needs them (not at import), except the two topic ARNs that Chalice
must know at import to create the SNS subscriptions. Every problem is collected before raising,
so one failed invocation tells the operator everything that is wrong with the stage.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional

from chalicelib.arns import ArnError, parse_arn
from chalicelib.errors import SettingsError
from chalicelib.region import region_from_env
from chalicelib.request.branch_filter import BranchFilter, BranchFilterError

FUNCTIONS = "PUSHDEPLOY_FUNCTIONS"
REQUEST_TOPIC_ARN = "REQUEST_TOPIC_ARN"
BRANCH_FILTER = "BRANCH_FILTER"
BUILDER_INSTANCE_ID = "BUILDER_INSTANCE_ID"  # one builder: still accepted, as a pool of one
BUILDER_INSTANCE_IDS = "BUILDER_INSTANCE_IDS"  # the builder pool (issue 11): comma-separated instance ids
WAKE_QUEUE_ARN = "WAKE_QUEUE_ARN"  # the standard queue build_start reads (subscribed to the FIFO request topic)
BUILDER_TAG = "BUILDER_TAG"
BUILD_QUEUE_URL = "BUILD_QUEUE_URL"
CLOSE_TOPIC_ARN = "CLOSE_TOPIC_ARN"
SLACK_WEBHOOK_PARAMETER = "SLACK_WEBHOOK_PARAMETER"
NOTIFY_TIMEOUT_SECONDS = "NOTIFY_TIMEOUT_SECONDS"
DEAD_LETTER_QUEUE_URL = "DEAD_LETTER_QUEUE_URL"
BUILDER_IDLE_MINUTES = "BUILDER_IDLE_MINUTES"
STALE_REQUEST_MINUTES = "STALE_REQUEST_MINUTES"
# webhook routes (issue 9)
WEBHOOK_SECRET_PREFIX = "WEBHOOK_SECRET_PREFIX"
WEBHOOK_DELIVERIES_TABLE = "WEBHOOK_DELIVERIES_TABLE"
ALL_NAMES = (FUNCTIONS, REQUEST_TOPIC_ARN, BRANCH_FILTER, BUILDER_INSTANCE_ID, BUILDER_INSTANCE_IDS, WAKE_QUEUE_ARN,
             BUILDER_TAG, BUILD_QUEUE_URL,
             CLOSE_TOPIC_ARN, SLACK_WEBHOOK_PARAMETER, NOTIFY_TIMEOUT_SECONDS, DEAD_LETTER_QUEUE_URL,
             BUILDER_IDLE_MINUTES, STALE_REQUEST_MINUTES, WEBHOOK_SECRET_PREFIX, WEBHOOK_DELIVERIES_TABLE)

# ---- pipeline API (docs/api.md): its own block, so the webhook settings can grow beside it
AGENT_SETTINGS_PARAMETER = "AGENT_SETTINGS_PARAMETER"
API_AUTH = "PUSHDEPLOY_API_AUTH"
ALL_NAMES += (AGENT_SETTINGS_PARAMETER, API_AUTH)
API_AUTH_CHOICES = ("iam", "none")
# ---- end of the pipeline API block

DEFAULT_BUILDER_TAG = "pushdeploy:role=builder"
# How often EventBridge runs the reconcile function, in minutes: the longest a stranded request waits for its
# builder. A constant, not a stage setting: each run costs a few reads, and a shorter wait buys little.
RECONCILE_EVERY_MINUTES = 5
DEFAULT_NOTIFY_TIMEOUT = 5.0
# (default, lowest, highest) minutes. Idle: a running builder whose agent is idle (or silent) this long with an empty
# queue is stopped by the reconcile; at least 5 so a few missed beats (one a minute) never stop a live agent.
# Stale: a request older than this is announced; at most SQS's longest retention (14 days).
BUILDER_IDLE_RANGE = (15, 5, 1440)
STALE_REQUEST_RANGE = (30, 5, 20160)
FUNCTION_SETS = {"source": frozenset({"source"}), "pipeline": frozenset({"pipeline"}),
                 "all": frozenset({"source", "pipeline"})}

# Always used with fullmatch: "$" would also accept a trailing newline, and "\d" any Unicode digit.
_INSTANCE_ID = re.compile(r"i-[0-9a-f]{8,17}")
_QUEUE_URL = re.compile(r"https?://[^/\s]+/[0-9]{12}/[A-Za-z0-9_-]{1,80}(\.fifo)?")
_PARAMETER = re.compile(r"[A-Za-z0-9_.\-/]{1,2048}")


@dataclass(frozen=True)
class FunctionSet:
    """Which handlers app.py registers: the dev stage gets the source side, prod the pipeline."""

    source: bool
    pipeline: bool


@dataclass(frozen=True)
class SourceSettings:
    request_topic_arn: str
    branch_filter: BranchFilter


@dataclass(frozen=True)
class PipelineSettings:
    request_topic_arn: str
    close_topic_arn: str
    builder_instance_ids: tuple[str, ...]  # the pool (issue 11); one id: a pool of one, as before
    builder_tag: tuple[str, str]
    build_queue_url: str
    slack_webhook_parameter: str
    notify_timeout_seconds: float
    region: Optional[str]
    dead_letter_queue_url: str = ""
    builder_idle_minutes: int = BUILDER_IDLE_RANGE[0]
    stale_request_minutes: int = STALE_REQUEST_RANGE[0]


class _Reader:
    """Collects problems instead of stopping at the first one."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.missing: list[str] = []
        self.invalid: list[str] = []

    def required(self, name: str) -> str:
        value = self.env.get(name, "").strip()
        if not value:
            self.missing.append(name)
        return value

    def check(self, name: str, value: str, ok: bool, expected: str) -> None:
        if value and not ok:
            self.invalid.append(f"{name}: {expected}, got {value!r}")

    def topic_arn(self, name: str) -> str:
        value = self.required(name)
        if value:
            try:
                parse_arn(value, "sns")
            except ArnError as exc:
                self.invalid.append(f"{name}: {exc}")
        return value

    def done(self) -> None:
        problems = []
        if self.missing:
            problems.append("missing " + ", ".join(self.missing))
        problems.extend("invalid " + text for text in self.invalid)
        if problems:
            raise SettingsError(problems)


def function_set(env: Mapping[str, str]) -> FunctionSet:
    """Read PUSHDEPLOY_FUNCTIONS at import: it decides which functions exist in the stage."""
    value = env.get(FUNCTIONS, "").strip()
    if value not in FUNCTION_SETS:
        problem = f"missing {FUNCTIONS}" if not value else f"invalid {FUNCTIONS}: {value!r}"
        raise SettingsError([f"{problem} (expected one of {', '.join(FUNCTION_SETS)})"])
    chosen = FUNCTION_SETS[value]
    return FunctionSet(source="source" in chosen, pipeline="pipeline" in chosen)


def registration_topics(env: Mapping[str, str]) -> tuple[str, str]:
    """(request topic ARN, close topic ARN): needed at import for on_sns_message."""
    reader = _Reader(env)
    request, close = reader.topic_arn(REQUEST_TOPIC_ARN), reader.topic_arn(CLOSE_TOPIC_ARN)
    reader.done()
    return request, close


def wake_queue_arn(env: Mapping[str, str]) -> Optional[str]:
    """WAKE_QUEUE_ARN, read at import: build_start's event source. None while the request topic is standard
    (build_start then subscribes to the topic itself, as before issue 11); required with a FIFO topic, which
    cannot invoke a Lambda function."""
    reader = _Reader(env)
    value = env.get(WAKE_QUEUE_ARN, "").strip()
    topic = env.get(REQUEST_TOPIC_ARN, "").strip()
    if not value:
        if topic.endswith(".fifo"):
            reader.missing.append(f"{WAKE_QUEUE_ARN} (the request topic {topic} is FIFO: SNS cannot invoke "
                                  "build_start from it, the wake queue does)")
        reader.done()
        return None
    try:
        arn = parse_arn(value, "sqs")
    except ArnError as exc:
        reader.invalid.append(f"{WAKE_QUEUE_ARN}: {exc}")
    else:
        reader.check(WAKE_QUEUE_ARN, value, not arn.resource.endswith(".fifo"),
                     "expected the standard wake queue (Lambda reads it in batches of any group), not a FIFO queue")
    reader.done()
    return value


def load_source(env: Mapping[str, str]) -> SourceSettings:
    reader = _Reader(env)
    topic = reader.topic_arn(REQUEST_TOPIC_ARN)
    raw_filter = reader.required(BRANCH_FILTER)
    branch_filter = BranchFilter({})
    if raw_filter:
        try:
            branch_filter = BranchFilter.parse(raw_filter)
        except BranchFilterError as exc:
            reader.invalid.append(f"{BRANCH_FILTER}: {exc}")
    reader.done()
    return SourceSettings(topic, branch_filter)


def load_pipeline(env: Mapping[str, str]) -> PipelineSettings:
    reader = _Reader(env)
    request_topic, close_topic = reader.topic_arn(REQUEST_TOPIC_ARN), reader.topic_arn(CLOSE_TOPIC_ARN)
    instance_ids = _builder_instance_ids(reader)
    tag_text = env.get(BUILDER_TAG, "").strip() or DEFAULT_BUILDER_TAG
    tag_key, sep, tag_value = tag_text.partition("=")
    reader.check(BUILDER_TAG, tag_text, bool(sep and tag_key.strip() and tag_value.strip()), "expected key=value")
    queue_url, dead_letter_url = _queue_url(reader, BUILD_QUEUE_URL), _queue_url(reader, DEAD_LETTER_QUEUE_URL)
    # the reconcile deletes what it reads from the dead-letter queue (after copying it): never the build queue
    reader.check(DEAD_LETTER_QUEUE_URL, dead_letter_url, dead_letter_url != queue_url,
                 f"expected the build queue's dead-letter queue, not {BUILD_QUEUE_URL} itself")
    parameter = _webhook_parameter(reader)
    timeout = _timeout(reader, env.get(NOTIFY_TIMEOUT_SECONDS, "").strip())
    idle = _minutes(reader, BUILDER_IDLE_MINUTES, BUILDER_IDLE_RANGE)
    stale = _minutes(reader, STALE_REQUEST_MINUTES, STALE_REQUEST_RANGE)
    reader.done()
    return PipelineSettings(
        request_topic_arn=request_topic, close_topic_arn=close_topic, builder_instance_ids=instance_ids,
        builder_tag=(tag_key.strip(), tag_value.strip()), build_queue_url=queue_url,
        slack_webhook_parameter=parameter, notify_timeout_seconds=timeout,
        region=region_from_env(env),
        dead_letter_queue_url=dead_letter_url, builder_idle_minutes=idle, stale_request_minutes=stale,
    )


def _builder_instance_ids(reader: _Reader) -> tuple[str, ...]:
    """The pool: BUILDER_INSTANCE_IDS (comma-separated) when set, else BUILDER_INSTANCE_ID as a pool of one (a
    stage recorded before the pool). The list wins when both are set: `infra record` writes the list and
    leaves an older single id in place."""
    text = reader.env.get(BUILDER_INSTANCE_IDS, "").strip()
    if not text:
        single = reader.env.get(BUILDER_INSTANCE_ID, "").strip()
        if not single:
            reader.missing.append(f"{BUILDER_INSTANCE_IDS} (or {BUILDER_INSTANCE_ID})")
            return ()
        reader.check(BUILDER_INSTANCE_ID, single, bool(_INSTANCE_ID.fullmatch(single)), "expected i-<hex>")
        return (single,)
    ids = tuple(part.strip() for part in text.split(",") if part.strip())
    bad = [i for i in ids if not _INSTANCE_ID.fullmatch(i)]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if not ids:
        reader.invalid.append(f"{BUILDER_INSTANCE_IDS}: expected comma-separated instance ids i-<hex>, got an "
                              f"empty list {text!r}")
    elif bad:
        reader.invalid.append(f"{BUILDER_INSTANCE_IDS}: expected comma-separated instance ids i-<hex>, got "
                              f"{', '.join(repr(b) for b in bad[:5])}")
    elif twice:
        reader.invalid.append(f"{BUILDER_INSTANCE_IDS}: each builder once, got {', '.join(twice)} more than once")
    return ids


def _queue_url(reader: _Reader, name: str) -> str:
    url = reader.required(name)
    reader.check(name, url, bool(_QUEUE_URL.fullmatch(url)), "expected https://sqs.<region>.amazonaws.com/<account>/<name>")
    return url


def _minutes(reader: _Reader, name: str, allowed: tuple[int, int, int]) -> int:
    """A whole number of minutes within ``allowed`` = (default, lowest, highest); empty means the default."""
    default, lowest, highest = allowed
    text = reader.env.get(name, "").strip()
    if not text:
        return default
    value = int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else -1
    reader.check(name, text, lowest <= value <= highest, f"expected whole minutes from {lowest} to {highest}")
    return value if lowest <= value <= highest else default


def _webhook_parameter(reader: _Reader) -> str:
    """The parameter's name. Pasting the webhook URL itself here is an easy mistake, and the settings error
    lands in every function's log, so a URL is refused without being quoted."""
    parameter = reader.required(SLACK_WEBHOOK_PARAMETER)
    if "://" in parameter:
        reader.invalid.append(f"{SLACK_WEBHOOK_PARAMETER}: expected the name of the SSM parameter that holds the "
                              "webhook URL, got a URL (value not shown: the webhook URL is a secret)")
        return parameter
    reader.check(SLACK_WEBHOOK_PARAMETER, parameter, bool(_PARAMETER.fullmatch(parameter)), "expected an SSM name")
    return parameter


def _timeout(reader: _Reader, text: str) -> float:
    if not text:
        return DEFAULT_NOTIFY_TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    reader.check(NOTIFY_TIMEOUT_SECONDS, text, 0 < value <= 60, "expected seconds between 0 and 60")
    return value if 0 < value <= 60 else DEFAULT_NOTIFY_TIMEOUT


# ---------------------------------------------------------------- pipeline API


@dataclass(frozen=True)
class ApiSettings:
    request_topic_arn: str
    agent_settings_parameter: str
    auth: str


def api_auth(env: Mapping[str, str]) -> str:
    """Read PUSHDEPLOY_API_AUTH at import: it decides the routes' authorizer. "none" is for the ``local`` stage
    (chalice local on the rig); inside Lambda it is refused, so a deployed stage never serves the API unsigned."""
    value = env.get(API_AUTH, "").strip() or "iam"
    if value not in API_AUTH_CHOICES:
        raise SettingsError([f"invalid {API_AUTH}: {value!r} (expected one of {', '.join(API_AUTH_CHOICES)})"])
    if value == "none" and env.get("AWS_LAMBDA_FUNCTION_NAME"):
        raise SettingsError([f"invalid {API_AUTH}: 'none' is only for chalice local (the local stage); a deployed "
                             "stage must sign its API calls (remove it, or set it to iam)"])
    return value


def load_api(env: Mapping[str, str]) -> ApiSettings:
    reader = _Reader(env)
    topic = reader.topic_arn(REQUEST_TOPIC_ARN)
    parameter = reader.required(AGENT_SETTINGS_PARAMETER)
    reader.check(AGENT_SETTINGS_PARAMETER, parameter, bool(_PARAMETER.fullmatch(parameter)), "expected an SSM name")
    auth = env.get(API_AUTH, "").strip() or "iam"
    reader.done()
    return ApiSettings(topic, parameter, auth)


# ---------------------------------------------------------------- webhook routes (issue 9)

DEFAULT_WEBHOOK_SECRET_PREFIX = "/pushdeploy/webhooks"
_TABLE = re.compile(r"[A-Za-z0-9_.-]{3,255}")


@dataclass(frozen=True)
class WebhookSettings:
    """What the webhook routes need: where requests go, which pushes build, where the secrets and the
    delivery ledger live."""

    request_topic_arn: str
    branch_filter: BranchFilter
    secret_prefix: str
    deliveries_table: str


def load_webhooks(env: Mapping[str, str]) -> WebhookSettings:
    reader = _Reader(env)
    topic = reader.topic_arn(REQUEST_TOPIC_ARN)
    branch_filter = _branch_filter(reader)
    prefix = env.get(WEBHOOK_SECRET_PREFIX, "").strip() or DEFAULT_WEBHOOK_SECRET_PREFIX
    reader.check(WEBHOOK_SECRET_PREFIX, prefix, prefix.startswith("/") and bool(_PARAMETER.fullmatch(prefix)),
                 "expected an SSM path like /pushdeploy/webhooks")
    table = reader.required(WEBHOOK_DELIVERIES_TABLE)
    reader.check(WEBHOOK_DELIVERIES_TABLE, table, bool(_TABLE.fullmatch(table)), "expected a DynamoDB table name")
    reader.done()
    return WebhookSettings(topic, branch_filter, prefix.rstrip("/"), table)


# ---------------------------------------------------------------- build history (issue 10)

BUILD_HISTORY_TABLE = "BUILD_HISTORY_TABLE"
ALL_NAMES += (BUILD_HISTORY_TABLE,)


def load_history_table(env: Mapping[str, str]) -> str:
    """The build history table: the history function writes it, the read routes and GET /status read it."""
    reader = _Reader(env)
    table = reader.required(BUILD_HISTORY_TABLE)
    reader.check(BUILD_HISTORY_TABLE, table, bool(_TABLE.fullmatch(table)), "expected a DynamoDB table name")
    reader.done()
    return table


def _branch_filter(reader: _Reader) -> BranchFilter:
    raw = reader.required(BRANCH_FILTER)
    if raw:
        try:
            return BranchFilter.parse(raw)
        except BranchFilterError as exc:
            reader.invalid.append(f"{BRANCH_FILTER}: {exc}")
    return BranchFilter({})


# ---------------------------------------------------------------- the dashboard (issue 10, docs/dashboard.md)

DASHBOARD_TOKEN_PARAMETER = "DASHBOARD_TOKEN_PARAMETER"
ALL_NAMES += (DASHBOARD_TOKEN_PARAMETER,)


def dashboard_token_parameter(env: Mapping[str, str]) -> str:
    """The SSM SecureString holding the bearer token of the read routes (deployed stages only: the local
    stage has no authorizer and never reads it)."""
    reader = _Reader(env)
    name = reader.required(DASHBOARD_TOKEN_PARAMETER)
    reader.check(DASHBOARD_TOKEN_PARAMETER, name, name.startswith("/") and bool(_PARAMETER.fullmatch(name)),
                 "expected an SSM parameter name like /pushdeploy/dashboard-token")
    reader.done()
    return name
