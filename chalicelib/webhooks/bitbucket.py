"""Bitbucket Cloud: ``X-Hub-Signature`` (``sha256=`` HMAC of the raw body; a hook without a secret sends none
and is refused), ``X-Event-Key``, ``X-Request-UUID`` (the delivery; ``X-Hook-UUID`` names the webhook, the same
for every delivery, so it cannot tell deliveries apart).

``repo:push`` builds one request per branch in ``push.changes``: a change whose ``new`` is null deleted the
branch, one whose ``new.type`` is ``tag`` pushed a tag; neither builds. Every other event is answered 202.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalicelib.webhooks import signatures
from chalicelib.webhooks.delivery import Malformed, Push, Reading, commit, event_and_delivery, header, json_object, text

PROVIDER = "bitbucket"
SIGNATURE_HEADER = "X-Hub-Signature"
EVENT_HEADER = "X-Event-Key"
DELIVERY_HEADER = "X-Request-UUID"
MAX_CHANGES = 100  # Bitbucket sends one change per pushed ref; a push of more is refused, not half-read


def authentic(headers: Mapping[str, str], body: bytes, secret: str | None) -> bool:
    return signatures.sha256_signature_matches(secret, body, header(headers, SIGNATURE_HEADER))


def read(headers: Mapping[str, str], body: bytes) -> Reading:
    event, delivery = event_and_delivery(headers, EVENT_HEADER, DELIVERY_HEADER)
    if event != "repo:push":
        return Reading("ignored", delivery, reason=f"event {event[:60]!r} does not build (only repo:push does)")
    data = json_object(body)
    repository = text(data, "repository", "full_name") or ""
    pushed_by = text(data, "actor", "nickname", required=False) or text(data, "actor", "display_name",
                                                                          required=False)
    changes = data.get("push", {}).get("changes") if isinstance(data.get("push"), dict) else None
    if not isinstance(changes, list) or len(changes) > MAX_CHANGES:
        raise Malformed(f"push.changes: expected a list of at most {MAX_CHANGES} changes")
    branches = sum(1 for c in changes if isinstance(c, dict) and isinstance(c.get("new"), dict)
                   and c["new"].get("type") != "tag")
    pushes, skipped = [], []
    for index, change in enumerate(changes):
        push, why = _change(change, index, repository, pushed_by, delivery, several=branches > 1)
        if push:
            pushes.append(push)
        else:
            skipped.append(why)
    return Reading("push", delivery, pushes=tuple(pushes), skipped=tuple(skipped))


def _change(change: Any, index: int, repository: str, pushed_by: str | None, delivery: str,
            several: bool) -> tuple[Push | None, str]:
    where = f"push.changes[{index}]"
    if not isinstance(change, dict):
        raise Malformed(f"{where}: expected an object")
    new = change.get("new")
    if new is None:
        old = change.get("old")
        name = old.get("name") if isinstance(old, dict) else None
        return None, f"{str(name)[:120]} of {repository[:120]}: branch deleted, not built"
    kind = text(new, "type")
    name = text(new, "name") or ""
    if kind == "tag":
        return None, f"tag {name[:120]} of {repository[:120]}: tags never build"
    if kind != "branch":
        raise Malformed(f"{where}.new.type: expected branch or tag, got {str(kind)[:40]!r}")
    sha = commit(new, "target", "hash")
    event_id = f"{delivery}#{name}" if several else delivery
    return Push(repository, name, sha, pushed_by, event_id), ""
