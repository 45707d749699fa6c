"""A build result as a Slack Block Kit message: what happened, to which commit, image and revision.

The seed's notification said "Server is updated" whether the build worked or not; this one
leads with the outcome and carries everything a person needs to act on it.
"""

from __future__ import annotations

from typing import Any, Optional

from chalicelib.arns import ArnError, parse_task_definition
from chalicelib.contracts import BuildResult
from chalicelib.notify import blockkit, console_links

STYLE = {
    "succeeded": (":white_check_mark:", "Deployed"),
    "failed": (":x:", "Build failed"),
    "rolled_back": (":leftwards_arrow_with_hook:", "Rolled back"),
    "skipped": (":fast_forward:", "Nothing to deploy"),
}
# A rollback someone asked for: "Rolled back" alone would read like a failed deploy's automatic rollback.
ROLLBACK_STYLE = {
    "succeeded": (":rewind:", "Rollback done"),
    "failed": (":x:", "Rollback failed"),
}


def escape(text: str) -> str:
    """Slack mrkdwn control characters, so a commit subject cannot inject links or mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _revision(arn: Optional[str]) -> str:
    if not arn:
        return "-"
    try:
        return escape(str(parse_task_definition(arn)))
    except ArnError:
        return escape(arn)


def commit_text(result: BuildResult) -> str:
    sha = result.commit or (result.commits[0].sha if result.commits else None)
    if not sha:
        return "-"
    info = next((c for c in result.commits if c.sha == sha), None)
    text = f"`{sha[:7]}`"
    if info and info.subject:
        text += f" {escape(info.subject)}"
    if info and info.author:
        text += f" ({escape(info.author)})"
    if len(result.commits) > 1:
        text += f" +{len(result.commits) - 1} more"
    return text


def duration_text(seconds: Optional[float]) -> str:
    if seconds is None or seconds < 0:
        return "-"
    minutes, secs = divmod(int(round(seconds)), 60)
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def _services_text(result: BuildResult) -> str:
    if not result.services:
        return "-"
    return "\n".join(
        f"{escape(s.service)}: {_revision(s.new_task_definition)} (was {_revision(s.previous_task_definition)})"
        for s in result.services)


def requested_text(result: BuildResult) -> Optional[str]:
    """Who asked for what and how it arrived, e.g. "rollback by arn:aws:iam::1:user/alice (manual)"; None for a
    result from an agent that does not say (it predates the field)."""
    if not result.trigger and not result.requested_by:
        return None
    text = f"{result.action} by {escape(result.requested_by or 'unknown')}"
    return text + (f" ({escape(result.trigger)})" if result.trigger else "")


def _links(result: BuildResult, region: Optional[str]) -> list[str]:
    links = []
    if result.commit and (url := console_links.commit_url(result.repository, result.commit, region)):
        links.append(f"<{url}|Commit>")
    for service in result.services:
        if url := console_links.service_url(service, region):
            links.append(f"<{url}|ECS {escape(service.service)}>")
    if result.log and (url := console_links.log_url(result.log, region)):
        links.append(f"<{url}|Build log>")
    return links


def build_message(result: BuildResult, region: Optional[str]) -> dict[str, Any]:
    """Every text is bounded by Block Kit's limits (chalicelib/notify/blockkit.py): Slack refuses a whole
    message for one text over its limit, and a long commit subject or error must not cost the team it."""
    emoji, title = (ROLLBACK_STYLE if result.action == "rollback" else {}).get(result.outcome, STYLE[result.outcome])
    requested = requested_text(result)
    image = f"`{escape(result.image.tag)}`" if result.image else "-"
    blocks: list[dict[str, Any]] = [
        blockkit.header(f"{emoji} {title}: {result.pipeline}"),
        blockkit.fields([
            f"*Pipeline*\n{escape(result.pipeline)}", f"*Outcome*\n{result.outcome}",
            f"*Commit*\n{commit_text(result)}", f"*Image tag*\n{image}",
            f"*Task definition*\n{_services_text(result)}",
            f"*Duration*\n{duration_text(result.duration_seconds)}",
            *([f"*Requested*\n{requested}"] if requested else []),
        ]),
    ]
    if result.error:
        blocks.append(blockkit.section(blockkit.code_block("*Reason*\n", escape(result.error))))
    if links := _links(result, region):
        blocks.append(blockkit.context([" · ".join(links)]))
    short = (result.commit or "")[:7]
    return blockkit.message(f"{emoji} {title}: {result.pipeline} {short}".strip(), blocks)
