"""The deploy journal: a write-ahead note of a deploy in flight, so a crash cannot turn it into a lie.

An agent killed (SIGKILL, OOM, power) after ``update_service`` and before its result is published
leaves the services moving with nobody watching; its request comes back, the same commit builds to
the same image, and without this note the next run would see that image running and report
``skipped``. The note is written after the new revisions are registered and before any service is
updated, and cleared only once the result is published; the next build of that pipeline reads it
and verifies (or finishes, or rolls back) the rollout instead. One small JSON file per pipeline in
cache_dir, written atomically.
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from chalicelib.contracts import ServiceDeployment, utc_now

DIRECTORY = "deploy-journal"


@dataclass(frozen=True)
class JournalEntry:
    pipeline: str
    commit: str
    image: str        # the reference deployed
    image_id: str     # the local image ID it was built as: the next build compares its own
    services: tuple[ServiceDeployment, ...]
    digest: str | None = None
    written_at: str = ""

    def to_json(self) -> str:
        data = asdict(self)
        data["services"] = [asdict(s) for s in self.services]
        return json.dumps(data, indent=1)


class DeployJournal:
    def __init__(self, cache_dir: str | os.PathLike[str], log: Callable[[str], None]) -> None:
        self.directory = Path(cache_dir) / DIRECTORY
        self.log = log

    def path(self, pipeline: str) -> Path:
        return self.directory / (urllib.parse.quote(pipeline, safe="") + ".json")

    def write(self, entry: JournalEntry) -> None:
        """Raises OSError: a deploy that cannot leave its note must not start (the caller fails the build)."""
        path = self.path(entry.pipeline)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(JournalEntry(**{**asdict(entry), "services": entry.services,
                                       "written_at": utc_now()}).to_json(), encoding="utf-8")
        tmp.replace(path)

    def read(self, pipeline: str) -> JournalEntry | None:
        path = self.path(pipeline)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            services = tuple(ServiceDeployment(**s) for s in data.pop("services"))
            return JournalEntry(**data, services=services)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as exc:
            self.log(f"deploy journal: {path} unreadable, ignored: {exc}")
            return None

    def clear(self, pipeline: str) -> None:
        try:
            self.path(pipeline).unlink(missing_ok=True)
        except OSError as exc:
            self.log(f"deploy journal: could not remove {self.path(pipeline)} (the next build verifies again): {exc}")
