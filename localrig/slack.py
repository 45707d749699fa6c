"""The Slack stand-in: a real HTTP server that records every incoming-webhook payload.

Its URL is what the rig stores in the SSM SecureString, so the notify handler reads it exactly
as on AWS. It answers like Slack (200 ``ok``); a payload that is not JSON gets Slack's 400.
``go_down(status)`` makes it answer every post with that status (Slack having an outage; nothing
is recorded as received) until ``come_back()``, or only the next ``posts`` posts; each refused post
is kept in ``refused``.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

FIELD_GAP = "    "  # between the two columns of fields
_LINK = re.compile(r"<([^|>]+)(?:\|([^>]+))?>")  # mrkdwn <url|label>
Listener = Callable[[dict[str, Any], float], None]  # (payload, arrival time)


class SlackReceiver:
    """Runs in a thread of the rig process; ``payloads`` are in arrival order."""

    def __init__(self, record_path: Path | None = None, on_payload: Listener | None = None) -> None:
        self.record_path = record_path
        self.on_payload = on_payload
        self._records: list[tuple[float, dict[str, Any]]] = []
        self.refused: list[tuple[float, int]] = []
        self.down_status: int | None = None
        self._down_posts: int | None = None  # None: down until come_back()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="slack", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/services/T000/B000/rig"

    def payloads(self) -> list[dict[str, Any]]:
        return [payload for _, payload in self.records()]

    def records(self) -> list[tuple[float, dict[str, Any]]]:
        """(arrival time, payload) pairs, in arrival order."""
        with self._lock:
            return list(self._records)

    def go_down(self, status: int = 503, posts: int | None = None) -> None:
        with self._lock:
            self.down_status, self._down_posts = status, posts

    def come_back(self) -> None:
        with self._lock:
            self.down_status, self._down_posts = None, None

    def _refuse(self) -> int | None:
        """The status to refuse this post with, or None to take it."""
        with self._lock:
            status = self.down_status
            if status is None:
                return None
            self.refused.append((time.time(), status))
            if self._down_posts is not None:
                self._down_posts -= 1
                if self._down_posts <= 0:
                    self.down_status, self._down_posts = None, None
            return status

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _record(self, payload: dict[str, Any]) -> None:
        now = time.time()
        with self._lock:
            self._records.append((now, payload))
        if self.record_path is not None:
            with open(self.record_path, "a", encoding="utf-8") as out:
                out.write(json.dumps({"time": now, "payload": payload}) + "\n")
        if self.on_payload is not None:
            self.on_payload(payload, now)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - base class signature
                return

            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                down = receiver._refuse()
                if down is not None:
                    self._answer(down, b"service_unavailable")
                    return
                try:
                    payload = json.loads(raw)
                except ValueError:
                    self._answer(400, b"invalid_payload")
                    return
                receiver._record(payload)
                self._answer(200, b"ok")

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


def payload_text(payload: dict[str, Any]) -> str:
    """Every text in a Block Kit payload, joined: what a person would read in the channel."""
    parts: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    parts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(payload)
    return "\n".join(parts)


def render_message(payload: dict[str, Any]) -> str:
    """The message as the channel shows it: each block in order (header, section text and fields, context
    line); the top-level ``text`` is only the notification/fallback, shown when there are no blocks."""
    blocks = payload.get("blocks") or []
    if not blocks:
        return str(payload.get("text", ""))
    return "\n".join(line for block in blocks for line in _block_lines(block))


def _block_lines(block: dict[str, Any]) -> list[str]:
    kind = block.get("type")
    if kind == "divider":
        return ["----"]
    if kind == "context":
        return [" · ".join(_text(e) for e in block.get("elements", []) if _text(e))]
    lines = [_text(block.get("text"))] if block.get("text") else []
    # a field is "*Label*\nvalue"; the channel shows fields in two columns: two "label value" per line here
    cells = [" ".join(_text(f).split("\n")) for f in block.get("fields", [])]
    return lines + [FIELD_GAP.join(cells[n:n + 2]) for n in range(0, len(cells), 2)]


def _text(node: Any) -> str:
    """A text object's text with mrkdwn links shown as the channel shows them: their label."""
    text = str(node.get("text") or node.get("alt_text") or "") if isinstance(node, dict) else str(node or "")
    return _LINK.sub(lambda m: m.group(2) or m.group(1), text)
