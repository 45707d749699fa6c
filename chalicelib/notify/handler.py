"""The notify function: a build result, an alert, or an agent's last end of run on the close topic becomes one
Slack message.

Both close and notify subscribe to the close topic (Chalice cannot set a subscription filter
policy), so each ignores the message kind that is not its business: here, the ordinary end of run
of an idle agent. An end of run that says its agent exited is posted: nothing builds until the
cause is fixed or the reconcile starts the builder again.
"""

from __future__ import annotations

import logging
from typing import Any, Optional

from chalicelib.contracts import Alert, ContractError, EndOfRun, parse_close_message
from chalicelib.notify.alert_message import agent_stopped_message, alarm_message, alert_message
from chalicelib.notify.cloudwatch_alarm import parse_alarm
from chalicelib.notify.slack import SlackWebhook
from chalicelib.notify.slack_message import build_message

log = logging.getLogger(__name__)


class NotifyHandler:
    def __init__(self, webhook: SlackWebhook, region: Optional[str]) -> None:
        self._webhook = webhook
        self._region = region

    def handle(self, message: str) -> str:
        try:
            result = parse_close_message(message)
        except ContractError as exc:
            alarm = parse_alarm(message)
            if alarm:
                return self._post(alarm_message(alarm), f"alarm {alarm.name[:200]!r} ({alarm.state[:20]})")
            log.error("notify: malformed close message, no notification: %s", exc)
            return "malformed"
        if isinstance(result, Alert):
            return self._post(alert_message(result), f"{result.kind} alert ({result.message_id or result.sent_at})")
        if isinstance(result, EndOfRun):
            instance = result.builder_instance_id or "the builder"
            if result.agent_exited:
                return self._post(agent_stopped_message(result), f"agent stopped on {instance}")
            log.info("notify: end of run from %s needs no notification", instance)
            return "end-of-run"
        short = (result.commit or "")[:12]
        if not self._webhook.post(build_message(result, self._region)):
            return "refused"
        log.info("notify: posted %s for %s at %s to Slack", result.outcome, result.pipeline, short)
        return "posted"

    def _post(self, payload: dict[str, Any], what: str) -> str:
        if not self._webhook.post(payload):
            return "refused"
        log.info("notify: posted %s to Slack", what)
        return "posted"
