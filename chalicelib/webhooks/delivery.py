"""What a webhook route reads (a provider's delivery) and what the parsers hand back.

A parser never raises anything but ``Malformed`` for bad input, so the handler can answer 400 for every
shape of broken body with one ``except``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Optional

# Bodies over this are answered 413 before anything else is done with them. Push payloads we read are far
# smaller: GitHub's is a few KB per commit and lists at most 2,048 commits (GitHub caps any payload at 25 MB),
# GitLab's lists at most 20 commits, Bitbucket's truncates its commit lists. docs/webhooks.md "Size limit".
MAX_BODY_BYTES = 1024 * 1024
# A delivery id is a UUID (GitHub, GitLab, Bitbucket); anything longer or not plain ASCII is refused.
MAX_DELIVERY_ID_CHARS = 200
ZERO_COMMIT = "0" * 40
BRANCH_PREFIX = "refs/heads/"
TAG_PREFIX = "refs/tags/"


class Malformed(ValueError):
    """The body or a header is not what the provider sends: answered 400, nothing published."""


@dataclass(frozen=True)
class Push:
    """One branch moved to ``commit`` on ``repository``, by ``pushed_by``."""

    repository: str
    branch: str
    commit: str
    pushed_by: Optional[str]
    event_id: str


@dataclass(frozen=True)
class Reading:
    """What a verified delivery asks for. ``kind``: "push" (``pushes`` and ``skipped`` say what), "ping"
    (answered 200) or "ignored" (an event that never builds, answered 202 with ``reason``)."""

    kind: str
    delivery_id: str = ""
    reason: str = ""
    pushes: tuple[Push, ...] = ()
    skipped: tuple[str, ...] = field(default=())


def header(headers: Mapping[str, str], name: str) -> Optional[str]:
    """A header's value, whatever case the caller's mapping keeps names in."""
    getter = getattr(headers, "get", None)
    value = getter(name) if getter else None
    if value is None:
        lowered = name.lower()
        value = next((v for k, v in headers.items() if k.lower() == lowered), None)
    return value


def delivery_id(headers: Mapping[str, str], *names: str) -> str:
    """The first of ``names`` present: a printable ASCII id without spaces, else Malformed."""
    for name in names:
        value = header(headers, name)
        if value is None:
            continue
        if not 1 <= len(value) <= MAX_DELIVERY_ID_CHARS or not all("!" <= c <= "~" for c in value):
            raise Malformed(f"invalid header {name}: expected an id of 1-{MAX_DELIVERY_ID_CHARS} printable "
                            "ASCII characters")
        return value
    raise Malformed(f"missing header {' or '.join(names)}")


def event_and_delivery(headers: Mapping[str, str], event_header: str, *delivery_headers: str) -> tuple[str, str]:
    """(event name, delivery id): both headers every provider sends with every delivery."""
    event = header(headers, event_header)
    if not event:
        raise Malformed(f"missing header {event_header}")
    return event, delivery_id(headers, *delivery_headers)


def json_object(body: bytes) -> dict[str, Any]:
    """The body as a JSON object; anything else is Malformed."""
    try:
        data = json.loads(body)
    except RecursionError:
        raise Malformed("body is not JSON this code accepts: nested too deeply") from None
    except (TypeError, ValueError) as exc:
        raise Malformed(f"body is not JSON: {str(exc)[:120]}") from None
    if not isinstance(data, dict):
        raise Malformed(f"body: expected a JSON object, got {type(data).__name__}")
    return data


def text(data: Any, *path: str, required: bool = True) -> Optional[str]:
    """The string at ``path`` in nested objects: Malformed when a step is not an object or the value is not
    a non-empty string (None when absent and not ``required``)."""
    where = ".".join(path)
    value = data
    for step in path:
        if not isinstance(value, dict):
            raise Malformed(f"{where}: expected an object on the way, got {type(value).__name__}")
        value = value.get(step)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise Malformed(f"{where}: expected a non-empty string, got {type(value).__name__}")
    return value


def commit(data: Any, *path: str) -> str:
    """A full commit id; an abbreviated or upper-case one is not what the providers send."""
    value = text(data, *path) or ""
    if len(value) != 40 or not all(c in "0123456789abcdef" for c in value):
        raise Malformed(f"{'.'.join(path)}: expected a 40-character lowercase hex commit id")
    return value
