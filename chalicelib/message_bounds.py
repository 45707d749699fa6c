"""Keep a BuildResult under SNS's message size limit, shrinking it the same way every time.

SNS refuses a publish over 262,144 bytes (message plus attributes). A result carries up to 50
commits whose subjects and authors come from git unbounded, so a push of long commit messages
would make the publish fail, the request stay queued and the team never hear. Rather than lose
the result, it is shrunk step by step (subjects and authors cut, older commits dropped, the error
cut), each cut marked so a reader knows something is missing, until its JSON fits the budget.
Sizes are the contract's own ``to_json`` in UTF-8 bytes: exactly what is published.
"""

from __future__ import annotations

from dataclasses import replace
from typing import NamedTuple

from chalicelib.contracts import BuildResult, CommitInfo

SNS_MAX_BYTES = 262_144
ATTRIBUTES_ROOM = 6_144  # message attributes and their names count towards the same limit
RESULT_BUDGET = SNS_MAX_BYTES - ATTRIBUTES_ROOM


class MessageTooLarge(ValueError):
    """Even the smallest form does not fit (only possible with absurd configured names)."""


class _Level(NamedTuple):
    subject_chars: int
    author_chars: int
    commits: int
    error_chars: int


# From mild to severe; the first level that fits is used, so a small result is never touched.
_LEVELS = (
    _Level(1000, 200, 50, 1000),
    _Level(300, 100, 50, 1000),
    _Level(200, 80, 20, 1000),
    _Level(120, 60, 10, 500),
    _Level(72, 40, 3, 300),
    _Level(72, 40, 1, 200),
)


def json_bytes(result: BuildResult) -> int:
    return len(result.to_json().encode("utf-8"))


def bound_result(result: BuildResult, budget: int = RESULT_BUDGET) -> BuildResult:
    """``result`` itself when it fits, else the mildest shrunk form that does (deterministic)."""
    if json_bytes(result) <= budget:
        return result
    for level in _LEVELS:
        candidate = _shrink(result, level)
        if json_bytes(candidate) <= budget:
            return candidate
    raise MessageTooLarge(f"result of {result.pipeline[:200]} is {json_bytes(candidate)} bytes even shrunk, "
                          f"over the budget of {budget}")


def clip(text: str, limit: int) -> str:
    """At most ``limit`` characters of ``text``, plus a marker saying how much was cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... [{len(text) - limit} more characters cut]"


def _shrink(result: BuildResult, level: _Level) -> BuildResult:
    kept = [CommitInfo(c.sha, clip(c.subject, level.subject_chars), clip(c.author, level.author_chars))
            for c in result.commits[:level.commits]]  # newest first: the oldest go
    dropped = len(result.commits) - len(kept)
    if dropped:
        last = kept[-1]
        kept[-1] = replace(last, subject=f"{last.subject} [+{dropped} more commits not listed]")
    error = clip(result.error, level.error_chars) if result.error is not None else None
    return replace(result, commits=tuple(kept), error=error)
