"""GitHub: ``X-Hub-Signature-256`` (HMAC-SHA256 of the raw body), ``X-GitHub-Event``, ``X-GitHub-Delivery``.

A webhook's content type is JSON or form-encoded (one field, ``payload``, holding the JSON); the signature
covers the body as sent, in either form. ``push`` builds, ``ping`` (sent when the hook is created) is
answered 200, any other event 202. A tag push or a deleted branch never builds.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import parse_qs

from chalicelib.webhooks import signatures
from chalicelib.webhooks.delivery import (
    BRANCH_PREFIX,
    TAG_PREFIX,
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

PROVIDER = "github"
SIGNATURE_HEADER = "X-Hub-Signature-256"
EVENT_HEADER = "X-GitHub-Event"
DELIVERY_HEADER = "X-GitHub-Delivery"
FORM_TYPE = "application/x-www-form-urlencoded"


def authentic(headers: Mapping[str, str], body: bytes, secret: str | None) -> bool:
    return signatures.sha256_signature_matches(secret, body, header(headers, SIGNATURE_HEADER))


def read(headers: Mapping[str, str], body: bytes) -> Reading:
    event, delivery = event_and_delivery(headers, EVENT_HEADER, DELIVERY_HEADER)
    if event == "ping":
        return Reading("ping", delivery)
    if event != "push":
        return Reading("ignored", delivery, reason=f"event {event[:60]!r} does not build (only push does)")
    data = json_object(_payload(headers, body))
    ref = text(data, "ref") or ""
    where = f"{ref[:120]} of {text(data, 'repository', 'full_name')}"
    if ref.startswith(TAG_PREFIX):
        return Reading("push", delivery, skipped=(f"{where}: a tag, tags never build",))
    if not ref.startswith(BRANCH_PREFIX):
        raise Malformed(f"ref: expected refs/heads/<branch> or refs/tags/<tag>, got {ref[:120]!r}")
    deleted = data.get("deleted")
    if deleted is not None and not isinstance(deleted, bool):
        raise Malformed("deleted: expected true or false")
    after = commit(data, "after")
    if deleted or after == ZERO_COMMIT:
        return Reading("push", delivery, skipped=(f"{where}: branch deleted, not built",))
    pushed_by = text(data, "pusher", "name", required=False) or text(data, "sender", "login", required=False)
    push = Push(text(data, "repository", "full_name") or "", ref[len(BRANCH_PREFIX):], after, pushed_by, delivery)
    return Reading("push", delivery, pushes=(push,))


def _payload(headers: Mapping[str, str], body: bytes) -> bytes:
    """The JSON document: the body itself, or the form field ``payload`` of a form-encoded body."""
    content_type = (header(headers, "Content-Type") or "").split(";")[0].strip().lower()
    if content_type != FORM_TYPE:
        return body
    try:
        fields = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True, max_num_fields=10)
    except (UnicodeDecodeError, ValueError) as exc:
        raise Malformed(f"form body: {str(exc)[:120]}") from None
    values = fields.get("payload", [])
    if len(values) != 1:
        raise Malformed(f"form body: expected one field 'payload', got {len(values)}")
    return values[0].encode("utf-8", "surrogatepass")
