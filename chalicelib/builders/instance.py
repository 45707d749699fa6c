"""A builder EC2 instance as DescribeInstances shows it, and what its state allows.

Every start/stop (chalicelib/builders/pool.py) goes through ``Instance.refusal`` first, so a wrong id in a
message or in the settings can never start or stop a machine that is not tagged as the builder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Optional

RUNNING = ("pending", "running")


@dataclass(frozen=True)
class Instance:
    instance_id: str
    state: str
    tags: dict[str, str]
    launch_time: Optional[datetime] = None  # when EC2 last started it (a start resets it): a just-booted agent's grace

    def refusal(self, expected_id: str, tag: tuple[str, str]) -> Optional[str]:
        """Why this instance must not be touched, or None when it is the configured builder."""
        if self.instance_id != expected_id:
            return f"{self.instance_id} is not the configured builder {expected_id}"
        key, value = tag
        if self.tags.get(key) != value:
            return f"{self.instance_id} lacks the builder tag {key}={value} (has {key}={self.tags.get(key)!r})"
        return None
