"""A CloudWatch alarm's SNS notification, as it arrives on the close topic (infra/pipeline.yaml's alarms publish
there, so the team hears them through notify; close ignores them). Kept apart from the Slack formatting so
close can recognise one without importing it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class CloudWatchAlarm:
    """The fields of CloudWatch's SNS notification for an alarm state change that a person needs."""

    name: str
    state: str
    reason: str
    description: str
    changed_at: str
    region: str


def parse_alarm(text: object) -> Optional[CloudWatchAlarm]:
    """The alarm a close-topic message carries, or None when it is not a CloudWatch alarm notification."""
    try:
        data = json.loads(text) if isinstance(text, str) else None
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) and data[k] for k in ("AlarmName",
                                                                                               "NewStateValue")):
        return None

    def text_of(key: str) -> str:
        value = data.get(key)
        return value if isinstance(value, str) else ""

    return CloudWatchAlarm(text_of("AlarmName"), text_of("NewStateValue"), text_of("NewStateReason"),
                           text_of("AlarmDescription"), text_of("StateChangeTime"), text_of("Region"))
