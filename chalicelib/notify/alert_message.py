"""Slack Block Kit messages for what is not a build result: an Alert from the reconcile, the EndOfRun of an
agent that stopped (crashed, bad settings, SQS errors that did not clear), and a CloudWatch alarm that
infra/pipeline.yaml publishes to the close topic (Lambda errors, the reconcile not running, dead letters
left unannounced).

Slack refuses a whole message when one block is over its limit, and then the team hears nothing, so every
text is cut to Slack's documented limits by chalicelib.notify.blockkit, the same cuts build results get (150 units
of header, 3,000 of section text, 2,000 per field), with a visible marker.
"""

from __future__ import annotations

from typing import Any

from chalicelib.contracts import Alert, EndOfRun
from chalicelib.notify import blockkit
from chalicelib.notify.cloudwatch_alarm import CloudWatchAlarm
from chalicelib.notify.slack_message import escape

HEADER_CHARS = blockkit.HEADER_TEXT_MAX
SECTION_CHARS = blockkit.SECTION_TEXT_MAX
FIELD_CHARS = blockkit.FIELD_TEXT_MAX
MARKER = blockkit.TRUNCATED

STYLE = {
    "dead_letter": (":skull:", "Build request dead-lettered"),
    "stale_request": (":hourglass:", "Build request waiting too long"),
    "builder_stopped": (":octagonal_sign:", "Builder stopped by the reconcile"),
}


def _text(text: str) -> str:
    """The notification line: as short as a section, so the phone's banner stays readable."""
    return blockkit.truncate_plain(text, SECTION_CHARS)


def _code(title: str, text: str) -> dict[str, Any]:
    return blockkit.section(blockkit.code_block(f"*{title}*\n", escape(text)))


def alert_message(alert: Alert) -> dict[str, Any]:
    emoji, title = STYLE[alert.kind]
    blocks: list[dict[str, Any]] = [
        blockkit.header(f"{emoji} {title}"),
        blockkit.section(escape(alert.summary)),
    ]
    fields = []
    if alert.pipeline:
        fields.append(f"*Pipeline*\n{escape(alert.pipeline)}")
    if alert.commit:
        fields.append(f"*Commit*\n`{alert.commit[:7]}`")
    if fields:
        blocks.append(blockkit.fields(fields))
    if alert.detail:
        blocks.append(_code("Detail", alert.detail))
    context = " · ".join(part for part in (f"message {alert.message_id}" if alert.message_id else "",
                                           f"sent {alert.sent_at}" if alert.sent_at else "") if part)
    if context:
        blocks.append(blockkit.context([escape(context)]))
    return {"text": _text(f"{emoji} {title}: {alert.summary}"), "blocks": blocks}


def agent_stopped_message(end: EndOfRun) -> dict[str, Any]:
    """An agent that exited: the team must know, because close has stopped the builder and nothing builds
    until the reconcile starts it again for what waits."""
    instance = end.builder_instance_id or "the configured builder"
    reason = end.reason or "no reason given"
    summary = (f"*Builder agent stopped* on {escape(instance)}: close stopped the builder; the reconcile starts it "
               "again for requests that wait. If the reason is a setting, fix it first or the next boot stops too.")
    return {
        "text": _text(f":rotating_light: Builder agent stopped: {reason} ({instance})"),
        "blocks": [blockkit.header(":rotating_light: Builder agent stopped"),
                   blockkit.section(summary),
                   _code("Reason", reason),
                   blockkit.context([escape(f"sent {end.sent_at}")])],
    }


def alarm_message(alarm: CloudWatchAlarm) -> dict[str, Any]:
    emoji = ":white_check_mark:" if alarm.state == "OK" else ":rotating_light:"
    title = f"{emoji} Alarm {alarm.state}: {alarm.name}"
    blocks: list[dict[str, Any]] = [blockkit.header(title)]
    if alarm.description:
        blocks.append(blockkit.section(escape(alarm.description)))
    if alarm.reason:
        blocks.append(_code("Why", alarm.reason))
    context = " · ".join(part for part in (alarm.changed_at, alarm.region) if part)
    if context:
        blocks.append(blockkit.context([escape(context)]))
    return {"text": _text(f"{title}: {alarm.description or alarm.reason}"), "blocks": blocks}
