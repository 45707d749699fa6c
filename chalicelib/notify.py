"""The notify function: a build result on the close topic becomes one Slack message.

Both close and notify subscribe to the close topic (Chalice cannot set a subscription filter
policy), so each ignores the message kind that is not its business: here, end-of-run.
"""

from __future__ import annotations

import logging
from typing import Optional

from chalicelib.contracts import BuildResult, ContractError, parse_close_message
from chalicelib.slack import SlackWebhook
from chalicelib.slack_message import build_message

log = logging.getLogger(__name__)


class NotifyHandler:
    def __init__(self, webhook: SlackWebhook, region: Optional[str]) -> None:
        self._webhook = webhook
        self._region = region

    def handle(self, message: str) -> str:
        try:
            result = parse_close_message(message)
        except ContractError as exc:
            log.error("notify: malformed close message, no notification: %s", exc)
            return "malformed"
        if not isinstance(result, BuildResult):
            log.info("notify: end of run from %s needs no notification", result.builder_instance_id or "the builder")
            return "end-of-run"
        short = (result.commit or "")[:12]
        if not self._webhook.post(build_message(result, self._region)):
            return "refused"
        log.info("notify: posted %s for %s at %s to Slack", result.outcome, result.pipeline, short)
        return "posted"
