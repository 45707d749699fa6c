"""GET /dashboard: the page file, with headers that let only its own inline style and script run.

The Content-Security-Policy names the SHA-256 of the page's one <style> and one <script>, computed from the
file when it is loaded: no other script can run (an injected <script> or ``onerror=`` attribute is blocked
even if a string from the API ever reached the DOM as HTML), and the page may only call its own origin.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

PAGE_FILE = Path(__file__).with_name("page.html")
_INLINE = {"script": re.compile(r"<script>(.*?)</script>", re.S), "style": re.compile(r"<style>(.*?)</style>", re.S)}


@dataclass(frozen=True)
class Page:
    body: str
    headers: dict[str, str]


def _hashes(kind: str, html: str) -> str:
    found = _INLINE[kind].findall(html)
    if not found:
        raise ValueError(f"{PAGE_FILE.name}: no inline <{kind}> (the page is one self-contained file)")
    return " ".join("'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"
                    for text in found)


def content_security_policy(html: str) -> str:
    return "; ".join([
        "default-src 'none'", f"script-src {_hashes('script', html)}", f"style-src {_hashes('style', html)}",
        "connect-src 'self'", "img-src data:", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
    ])


def load_page(path: Path = PAGE_FILE) -> Page:
    """Read once per container (app.py's factory keeps it)."""
    html = path.read_text(encoding="utf-8")
    return Page(html, {
        "Content-Type": "text/html; charset=utf-8",
        "Content-Security-Policy": content_security_policy(html),
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    })
