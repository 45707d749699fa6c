"""Pushes -> build requests: BRANCH_FILTER applied, each request checked by the contract the agent reads it with,
so nothing is published that the builder would refuse."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib.contracts import BuildRequest, ContractError, parse_build_request, utc_now
from chalicelib.request.branch_filter import BranchFilter
from chalicelib.webhooks.delivery import Malformed, Push, Reading


@dataclass(frozen=True)
class Plan:
    requests: tuple[BuildRequest, ...]
    not_built: tuple[str, ...]


def plan(reading: Reading, provider: str, branch_filter: BranchFilter) -> Plan:
    requests, not_built = [], list(reading.skipped)
    for push in reading.pushes:
        request = _request(push, provider)
        if branch_filter.matches(push.repository, push.branch):
            requests.append(request)
        else:
            not_built.append(f"{request.pipeline}: does not match BRANCH_FILTER, not built")
    return Plan(tuple(requests), tuple(not_built))


def _request(push: Push, provider: str) -> BuildRequest:
    """Built, then read back as the agent reads it: a name the contract refuses is a malformed delivery."""
    try:
        request = BuildRequest(repository=push.repository, branch=push.branch, commit=push.commit, source="webhook",
                               event_id=push.event_id, requested_at=utc_now(), pushed_by=push.pushed_by,
                               trigger=provider)
        return parse_build_request(request.to_json())
    except ContractError as exc:
        raise Malformed(f"{exc.field}: {exc.problem}"[:300]) from None
