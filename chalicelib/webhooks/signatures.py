"""Constant-time checks of a delivery's proof of origin, so the time an answer takes says nothing about how
much of a forged signature or token was right."""

from __future__ import annotations

import hashlib
import hmac
from typing import Optional

SHA256_PREFIX = "sha256="


def _bytes(value: str) -> bytes:
    """Header values and secrets may hold any character (a fuzzer's, or an odd secret): compared as bytes."""
    return value.encode("utf-8", "surrogatepass")


def sign_sha256(secret: str, body: bytes) -> str:
    """``sha256=<hex HMAC-SHA256 of the raw body>``: what GitHub and Bitbucket Cloud send."""
    return SHA256_PREFIX + hmac.new(_bytes(secret), body, hashlib.sha256).hexdigest()


def sha256_signature_matches(secret: Optional[str], body: bytes, given: Optional[str]) -> bool:
    """``given`` is the signature of the raw ``body`` under ``secret``. No secret configured matches nothing."""
    if not secret or given is None:
        return False
    return hmac.compare_digest(_bytes(sign_sha256(secret, body)), _bytes(given.strip()))


def token_matches(secret: Optional[str], given: Optional[str]) -> bool:
    """GitLab sends the secret itself (X-Gitlab-Token): compared in constant time too."""
    if not secret or given is None:
        return False
    return hmac.compare_digest(_bytes(secret), _bytes(given))
