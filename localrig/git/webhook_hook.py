"""A hosted git provider's push webhook, played by a bare repository's ``post-receive`` hook.

GitHub, GitLab and Bitbucket keep, per repository, a webhook: a URL, a secret and the events to
send. ``install`` writes that configuration next to the repository (mode 0600: it holds the
secret, as the provider does) and a hook that, on every push, sends the provider's deliveries
(localrig.git.webhook_payloads) to the URL, here the real `chalice local` server. Each delivery's
answer is appended to ``deliveries.jsonl`` beside the configuration, as a provider's "Recent
Deliveries" page shows them, and printed for the pusher (git shows it as ``remote: ...``).
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from localrig.git.codecommit import HookError, parse_hook_input
from localrig.git.webhook_payloads import PROVIDERS, Delivery, deliveries

CONFIG_NAME = "pushdeploy-webhook.json"
LOG_NAME = "pushdeploy-webhook-deliveries.jsonl"
TIMEOUT_SECONDS = 10.0  # GitHub gives up on a delivery after 10 s


@dataclass(frozen=True)
class WebhookConfig:
    provider: str
    url: str
    secret: str
    repository: str  # the full name the provider reports (owner/name)


def install(bare: Path, config: WebhookConfig) -> Path:
    """Configure ``bare``'s webhook and its post-receive hook (replacing any other post-receive)."""
    if config.provider not in PROVIDERS:
        raise HookError(f"unknown provider {config.provider!r}; expected one of {', '.join(PROVIDERS)}")
    config_file = bare / CONFIG_NAME
    config_file.touch(mode=0o600)
    config_file.chmod(0o600)
    config_file.write_text(json.dumps(asdict(config)))
    package_root = Path(__file__).resolve().parents[2]
    argv = [sys.executable, "-m", "localrig", "webhook-hook", "--config", str(config_file)]
    hook = bare / "hooks" / "post-receive"
    hook.write_text("#!/bin/sh\n"
                    f"# pushdeploy local rig: each push becomes {config.provider}'s push webhook\n"
                    f"PYTHONPATH={shlex.quote(str(package_root))} exec {shlex.join(argv)}\n")
    hook.chmod(0o755)
    return config_file


def run(config_file: Path, stdin_text: str, git_dir: Path | None = None) -> list[dict[str, Any]]:
    """Send the push's deliveries; return (and log) each one's outcome. Raises if any was not accepted."""
    config = WebhookConfig(**json.loads(config_file.read_text()))
    updates = parse_hook_input(stdin_text)
    git_dir = git_dir or Path(os.environ.get("GIT_DIR", ".")).resolve()
    pusher = os.environ.get("REMOTE_USER") or os.environ.get("GIT_PUSHER") or os.environ.get("USER") or "developer"
    outcomes = [send(config.url, d) for d in deliveries(config.provider, git_dir, config.repository, updates,
                                                         pusher, config.secret.encode())]
    with open(config_file.with_name(LOG_NAME), "a", encoding="utf-8") as log:
        for outcome in outcomes:
            log.write(json.dumps(outcome) + "\n")
    failed = [o for o in outcomes if not 200 <= o["status"] < 300]
    if failed:
        raise HookError("; ".join(f"delivery {o['delivery_id']}: {o['status']} {o['answer'][:200]}" for o in failed))
    return outcomes


def send(url: str, delivery: Delivery) -> dict[str, Any]:
    """POST one delivery; its status (0 when no answer), answer text and time, never its headers (the
    GitLab token is one of them)."""
    request = urllib.request.Request(url, data=delivery.body, headers=delivery.headers, method="POST")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as resp:
            status, answer = resp.status, resp.read().decode(errors="replace")
    except urllib.error.HTTPError as exc:
        status, answer = exc.code, exc.read().decode(errors="replace")
    except OSError as exc:
        status, answer = 0, f"no answer: {exc}"
    return {"time": time.time(), "provider": delivery.provider, "delivery_id": delivery.delivery_id, "url": url,
            "status": status, "answer": answer, "seconds": round(time.monotonic() - started, 4)}


def delivery_log(bare: Path) -> list[dict[str, Any]]:
    """Every delivery the repository's hook sent so far, oldest first."""
    path = bare / LOG_NAME
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
