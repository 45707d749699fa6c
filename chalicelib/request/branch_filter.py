"""Which pushes build: repository name -> branch glob patterns (the BRANCH_FILTER setting).

A filter instead of one hard-coded ``production`` branch, so one trigger can serve several
repositories and branches; "*" as a repository key applies to every repository.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase

ANY_REPOSITORY = "*"


class BranchFilterError(ValueError):
    """BRANCH_FILTER is not a JSON object of repository -> list of patterns."""


@dataclass(frozen=True)
class BranchFilter:
    patterns: Mapping[str, tuple[str, ...]]

    def matches(self, repository: str, branch: str) -> bool:
        """Case-sensitive glob match, because git branch names are case-sensitive."""
        candidates = self.patterns.get(repository, ()) + self.patterns.get(ANY_REPOSITORY, ())
        return any(fnmatchcase(branch, pattern) for pattern in candidates)

    @classmethod
    def parse(cls, text: str) -> BranchFilter:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise BranchFilterError(f"not JSON ({exc.msg} at char {exc.pos})") from exc
        if not isinstance(data, dict) or not data:
            raise BranchFilterError('expected a non-empty JSON object like {"sample": ["production"]}')
        patterns: dict[str, tuple[str, ...]] = {}
        for repository, branches in data.items():
            if not isinstance(branches, list) or not branches or not all(
                    isinstance(b, str) and b for b in branches):
                raise BranchFilterError(f"{repository!r}: expected a non-empty list of branch patterns")
            patterns[repository] = tuple(branches)
        return cls(patterns)
