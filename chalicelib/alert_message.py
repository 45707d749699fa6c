"""Slack Block Kit messages for what is not a build result: an Alert from the reconcile, the EndOfRun of an
agent that stopped (crashed, bad settings, SQS errors that did not clear), and a CloudWatch alarm that
infra/pipeline.yaml publishes to the close topic (Lambda errors, the reconcile not running, dead letters
left unannounced).

Slack refuses a whole message when one block is over its limit, and then the team hears nothing, so every
text is cut to Slack's documented limits with a visible marker: 150 characters of header, 3,000 of section
text, 2,000 per field.
"""

from __future__ import annotations

from typing import Any

from chalicelib.cloudwatch_alarm import CloudWatchAlarm
from chalicelib.contracts import Alert, EndOfRun
from chalicelib.slack_message import escape

HEADER_CHARS = 150
SECTION_CHARS = 3000
FIELD_CHARS = 2000
MARKER = "… (truncated)"

STYLE = {
    "dead_letter": (":skull:", "Build request dead-lettered"),
    "stale_request": (":hourglass:", "Build request waiting too long"),
    "builder_stopped": (":octagonal_sign:", "Builder stopped by the reconcile"),
}


def clip(text: str, limit: int) -> str:
    """``text`` within ``limit`` characters, ending in ``MARKER`` when it had to be cut."""
    return text if len(text) <= limit else text[:max(limit - len(MARKER), 0)] + MARKER


def _md(text: str, limit: int) -> dict[str, str]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": clip(text, HEADER_CHARS), "emoji": True}}


def _code(title: str, text: str) -> dict[str, Any]:
    """A section with a code block; the cut happens inside the fence, so the fence always closes."""
    room = SECTION_CHARS - len(f"*{title}*\n``````")
    return {"type": "section", "text": _md(f"*{title}*\n```{clip(escape(text), room)}```", SECTION_CHARS)}


def alert_message(alert: Alert) -> dict[str, Any]:
    emoji, title = STYLE[alert.kind]
    blocks: list[dict[str, Any]] = [
        _header(f"{emoji} {title}"),
        {"type": "section", "text": _md(escape(alert.summary), SECTION_CHARS)},
    ]
    fields = []
    if alert.pipeline:
        fields.append(_md(f"*Pipeline*\n{escape(alert.pipeline)}", FIELD_CHARS))
    if alert.commit:
        fields.append(_md(f"*Commit*\n`{alert.commit[:7]}`", FIELD_CHARS))
    if fields:
        blocks.append({"type": "section", "fields": fields})
    if alert.detail:
        blocks.append(_code("Detail", alert.detail))
    context = " · ".join(part for part in (f"message {alert.message_id}" if alert.message_id else "",
                                           f"sent {alert.sent_at}" if alert.sent_at else "") if part)
    if context:
        blocks.append({"type": "context", "elements": [_md(escape(context), SECTION_CHARS)]})
    return {"text": clip(f"{emoji} {title}: {alert.summary}", SECTION_CHARS), "blocks": blocks}


def agent_stopped_message(end: EndOfRun) -> dict[str, Any]:
    """An agent that exited: the team must know, because close has stopped the builder and nothing builds
    until the reconcile starts it again for what waits."""
    instance = end.builder_instance_id or "the configured builder"
    reason = end.reason or "no reason given"
    summary = (f"*Builder agent stopped* on {escape(instance)}: close stopped the builder; the reconcile starts it "
               "again for requests that wait. If the reason is a setting, fix it first or the next boot stops too.")
    return {
        "text": clip(f":rotating_light: Builder agent stopped: {reason} ({instance})", SECTION_CHARS),
        "blocks": [_header(":rotating_light: Builder agent stopped"),
                   {"type": "section", "text": _md(summary, SECTION_CHARS)},
                   _code("Reason", reason),
                   {"type": "context", "elements": [_md(escape(f"sent {end.sent_at}"), SECTION_CHARS)]}],
    }


def alarm_message(alarm: CloudWatchAlarm) -> dict[str, Any]:
    emoji = ":white_check_mark:" if alarm.state == "OK" else ":rotating_light:"
    title = f"{emoji} Alarm {alarm.state}: {alarm.name}"
    blocks: list[dict[str, Any]] = [_header(title)]
    if alarm.description:
        blocks.append({"type": "section", "text": _md(escape(alarm.description), SECTION_CHARS)})
    if alarm.reason:
        blocks.append(_code("Why", alarm.reason))
    context = " · ".join(part for part in (alarm.changed_at, alarm.region) if part)
    if context:
        blocks.append({"type": "context", "elements": [_md(escape(context), SECTION_CHARS)]})
    return {"text": clip(f"{title}: {alarm.description or alarm.reason}", SECTION_CHARS), "blocks": blocks}
