"""Requests already answered, so a redelivery does not build and report the same push twice.

SQS delivers at least once: a message deleted after its result was published can still come
back (a delete that failed, or SQS's own duplicate), in a later round or a later run. The record
lives in cache_dir, which outlives the process and the boot; it keeps the newest ``limit``
entries, so it stays a few kilobytes. The key is the request's event id with the pipeline and the
commit: a re-push of the same commit has a new event id and builds again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from agent.queue.build_queue import QueuedRequest

FILE_NAME = "answered-requests.json"
DEFAULT_LIMIT = 500


def request_key(item: QueuedRequest, pipeline: str) -> str:
    request = item.request
    return f"{request.event_id} {pipeline} {request.commit or '-'}"


class AnsweredRequests:
    def __init__(self, cache_dir: str | os.PathLike[str], log: Callable[[str], None],
                 limit: int = DEFAULT_LIMIT) -> None:
        self.path = Path(cache_dir) / FILE_NAME
        self.log = log
        self.limit = limit
        self.entries: dict[str, str] = self._load()

    def answered_by(self, item: QueuedRequest, pipelines: list[str]) -> str | None:
        """What answered this request for every one of ``pipelines``, or None if any is still unanswered."""
        answers = [self.entries.get(request_key(item, pid)) for pid in pipelines]
        if not answers or any(a is None for a in answers):
            return None
        return "; ".join(dict.fromkeys(a for a in answers if a))

    def record(self, items: list[QueuedRequest], pipeline: str, answer: str) -> None:
        for item in items:
            key = request_key(item, pipeline)
            self.entries.pop(key, None)
            self.entries[key] = answer
        while len(self.entries) > self.limit:
            del self.entries[next(iter(self.entries))]
        self._save()

    def _load(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            self.log(f"answered requests: {self.path} unreadable, starting a new record: {exc}")
            return {}
        if not isinstance(data, dict):
            return {}
        return {str(k): str(v) for k, v in data.items()}

    def _save(self) -> None:
        """Atomically (write and rename): a crash mid-write must not lose the whole record."""
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps(self.entries), encoding="utf-8")
            tmp.replace(self.path)
        except OSError as exc:
            self.log(f"answered requests: could not write {self.path} (a redelivery may build again): {exc}")
