"""GitLab: ``X-Gitlab-Token`` (the secret itself, compared in constant time), ``X-Gitlab-Event``, and the
delivery id: ``Idempotency-Key`` (GitLab 17.4+, the same on every retry of one delivery), else
``X-Gitlab-Event-UUID``.

``Push Hook`` builds; ``Tag Push Hook`` and every other event are answered 202. A push whose ``after`` is all
zeros deleted the branch and never builds. The repository is ``project.path_with_namespace``.
"""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib.webhooks import signatures
from chalicelib.webhooks.delivery import (
    BRANCH_PREFIX,
    ZERO_COMMIT,
    Malformed,
    Push,
    Reading,
    commit,
    event_and_delivery,
    header,
    json_object,
    text,
)

PROVIDER = "gitlab"
TOKEN_HEADER = "X-Gitlab-Token"
EVENT_HEADER = "X-Gitlab-Event"
DELIVERY_HEADERS = ("Idempotency-Key", "X-Gitlab-Event-UUID")  # the retry-stable key first, when sent
PUSH_EVENT = "Push Hook"
TAG_EVENT = "Tag Push Hook"


def authentic(headers: Mapping[str, str], body: bytes, secret: str | None) -> bool:
    return signatures.token_matches(secret, header(headers, TOKEN_HEADER))


def read(headers: Mapping[str, str], body: bytes) -> Reading:
    event, delivery = event_and_delivery(headers, EVENT_HEADER, *DELIVERY_HEADERS)
    if event == TAG_EVENT:
        return Reading("ignored", delivery, reason="a tag push: tags never build")
    if event != PUSH_EVENT:
        return Reading("ignored", delivery, reason=f"event {event[:60]!r} does not build (only Push Hook does)")
    data = json_object(body)
    kind = data.get("object_kind")
    if kind is not None and kind != "push":
        raise Malformed(f"object_kind: expected 'push' for a Push Hook, got {str(kind)[:40]!r}")
    ref = text(data, "ref") or ""
    repository = text(data, "project", "path_with_namespace") or ""
    if not ref.startswith(BRANCH_PREFIX):
        raise Malformed(f"ref: expected refs/heads/<branch>, got {ref[:120]!r}")
    after = commit(data, "after")
    if after == ZERO_COMMIT:
        return Reading("push", delivery, skipped=(f"{ref[:120]} of {repository[:120]}: branch deleted, not built",))
    pushed_by = text(data, "user_username", required=False) or text(data, "user_name", required=False)
    return Reading("push", delivery, pushes=(Push(repository, ref[len(BRANCH_PREFIX):], after, pushed_by, delivery),))
