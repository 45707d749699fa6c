"""Slack Block Kit within Slack's limits: a message over any limit is refused (400 invalid_blocks), and
then the team hears nothing at all. So every text is cut to its limit with a visible marker instead.

Limits from Slack's Block Kit reference (lengths in UTF-16 code units, as Slack counts them). Use the
builders here (``header``, ``section``, ``fields``, ``context``, ``message``) for every message the
Lambda side posts; ``problems`` says what a message breaks, for tests.
"""

from __future__ import annotations

import re
from typing import Any

HEADER_TEXT_MAX = 150
SECTION_TEXT_MAX = 3000
FIELD_TEXT_MAX = 2000
FIELDS_MAX = 10
CONTEXT_ELEMENTS_MAX = 10
CONTEXT_TEXT_MAX = 3000
BLOCKS_MAX = 50
MESSAGE_TEXT_MAX = 40000
TRUNCATED = "… (truncated)"
_FENCE = "```"
_OPEN_ENTITY = re.compile(r"&[a-z]{0,4}\Z")


def units(text: str) -> int:
    """Length as Slack counts it: UTF-16 code units (an emoji outside the BMP counts two)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def _cut(text: str, budget: int) -> str:
    """The longest prefix of ``text`` that fits in ``budget`` units."""
    piece = text[:budget]
    while units(piece) > budget:
        piece = piece[: len(piece) - max(1, (units(piece) - budget) // 2)]
    return piece


def truncate_plain(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit``, else its start and the marker."""
    if units(text) <= limit:
        return text
    return _cut(text, limit - units(TRUNCATED)) + TRUNCATED


def truncate_mrkdwn(text: str, limit: int) -> str:
    """Like ``truncate_plain`` for mrkdwn, without leaving half a link (``<url|label>``), half an escaped
    entity (``&amp;``) or an unclosed inline-code backtick before the marker."""
    if units(text) <= limit:
        return text
    kept = _cut(text, limit - units(TRUNCATED))
    if kept.rfind("<") > kept.rfind(">"):
        kept = kept[: kept.rfind("<")]
    kept = _OPEN_ENTITY.sub("", kept)
    if kept.count("`") % 2:
        kept = kept[: kept.rfind("`")]
    return kept + TRUNCATED


def code_block(label: str, body: str, limit: int = SECTION_TEXT_MAX) -> str:
    """``label`` then ``body`` in a code fence that stays closed however long ``body`` is; a fence inside
    ``body`` is broken up so it cannot end the block early."""
    body = body.replace(_FENCE, "`\u200b``")
    budget = limit - units(label) - 2 * len(_FENCE)
    if units(body) > budget:
        body = _cut(body, budget - units(TRUNCATED)) + TRUNCATED
    return f"{label}{_FENCE}{body}{_FENCE}"


def mrkdwn(text: str, limit: int) -> dict[str, str]:
    return {"type": "mrkdwn", "text": truncate_mrkdwn(text, limit)}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": truncate_plain(text, HEADER_TEXT_MAX),
                                       "emoji": True}}


def section(text: str) -> dict[str, Any]:
    """A section of mrkdwn text; pass text made by ``code_block`` to keep a fence valid."""
    return {"type": "section", "text": mrkdwn(text, SECTION_TEXT_MAX)}


def fields(texts: list[str]) -> dict[str, Any]:
    """A section of mrkdwn fields (two columns); more than FIELDS_MAX: the last one says so."""
    if len(texts) > FIELDS_MAX:
        texts = texts[: FIELDS_MAX - 1] + [f"{len(texts) - FIELDS_MAX + 1} more fields{TRUNCATED}"]
    return {"type": "section", "fields": [mrkdwn(t, FIELD_TEXT_MAX) for t in texts]}


def context(texts: list[str]) -> dict[str, Any]:
    return {"type": "context", "elements": [mrkdwn(t, CONTEXT_TEXT_MAX) for t in texts[:CONTEXT_ELEMENTS_MAX]]}


def message(text: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    """The webhook payload: ``text`` is the notification/fallback line; more than BLOCKS_MAX blocks: the
    last one says so."""
    if len(blocks) > BLOCKS_MAX:
        blocks = blocks[: BLOCKS_MAX - 1] + [section(f"{len(blocks) - BLOCKS_MAX + 1} more blocks{TRUNCATED}")]
    return {"text": truncate_plain(text, MESSAGE_TEXT_MAX), "blocks": blocks}


def problems(payload: dict[str, Any]) -> list[str]:
    """Every Block Kit limit ``payload`` breaks (empty when Slack would accept its sizes)."""
    found = []
    if units(payload.get("text", "")) > MESSAGE_TEXT_MAX:
        found.append("text")
    blocks = payload.get("blocks", [])
    if len(blocks) > BLOCKS_MAX:
        found.append(f"{len(blocks)} blocks")
    for i, block in enumerate(blocks):
        limit = HEADER_TEXT_MAX if block["type"] == "header" else SECTION_TEXT_MAX
        if "text" in block and units(block["text"]["text"]) > limit:
            found.append(f"blocks[{i}].text")
        if len(block.get("fields", [])) > FIELDS_MAX:
            found.append(f"blocks[{i}].fields")
        found += [f"blocks[{i}].fields[{j}]" for j, f in enumerate(block.get("fields", []))
                  if units(f["text"]) > FIELD_TEXT_MAX]
        if len(block.get("elements", [])) > CONTEXT_ELEMENTS_MAX:
            found.append(f"blocks[{i}].elements")
        found += [f"blocks[{i}].elements[{j}]" for j, e in enumerate(block.get("elements", []))
                  if units(e["text"]) > CONTEXT_TEXT_MAX]
    return found
