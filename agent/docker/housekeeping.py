"""Disk housekeeping on the builder after each build: old image tags go, build cache is pruned.

Every build tags a new image, and the builder's Docker data lives on a 30 GiB disk for months, so
without this the disk fills and builds start failing for a reason nobody connects with pushdeploy.
Per image repository the newest ``keep_images`` tags stay (a rollback or a rebuild from cache wants
them), and so does every image the target services run and the image just built, whatever its
age. The rest are removed by tag (``docker image rm``, never forced), which lets docker delete the
image and its intermediate layers once nothing else refers to them. When the engine's total usage
is still over ``build_cache_limit_mb``, dangling images (the classic builder's cache of replaced
images) and BuildKit's cache are pruned.

Housekeeping must never cost a build: every failure here is one log line and the build goes on.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from agent.docker.image import Docker, ImageError

MB = 1_000_000  # docker reports decimal units (go-units HumanSize)
_SIZE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kKMGTP]?B)\b")
_UNITS = {"B": 1, "kB": 10**3, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12, "PB": 10**15}
_DF_TYPES = ("Images", "Containers", "Build Cache")
_AGENT_TAG = re.compile(r"^[0-9]{14}-")


@dataclass(frozen=True)
class LocalTag:
    ref: str
    image_id: str
    created: datetime
    tag: str


def housekeep(docker: Docker, name: str, protect: Iterable[str | None], keep_images: int, cache_limit_mb: int,
              log: Callable[[str], None]) -> None:
    """Tidy ``name``'s tags (``registry/repository``) and the engine's cache; ``protect`` holds image IDs
    (what the services run, what was just built) that are never removed. Never raises an Exception."""
    try:
        removed, kept = remove_old_tags(docker, name, {p for p in protect if p}, keep_images)
        usage = engine_usage(docker)
        line = (f"housekeeping image={name} kept={kept} removed={len(removed)} "
                f"engine={usage // MB}MB limit={cache_limit_mb}MB")
        if usage > cache_limit_mb * MB:
            after = prune(docker, cache_limit_mb)
            line += f" pruned={usage // MB}MB->{after // MB}MB"
        log(line)
    except Exception as exc:  # noqa: BLE001 - a full disk is a later problem; this build must go on
        log(f"housekeeping image={name} FAILED, the build goes on: {exc}")


def local_tags(docker: Docker, name: str) -> list[LocalTag]:
    """The repository's tagged images on this engine, newest first.

    The agent's tags start with the UTC time of the build (``image_tag``), which is what "newest" means:
    an image rebuilt from the layer cache keeps the creation time of the first build that made it.
    Other tags are dated by the image's creation.
    """
    proc = docker.run(f"list images {name}", "image", "ls", "--no-trunc", "--format", "{{json .}}", name)
    tags = []
    for line in proc.stdout.splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        if row.get("Tag") in (None, "", "<none>"):
            continue  # untagged: dangling, the prune's job
        created = datetime.strptime(row["CreatedAt"][:25], "%Y-%m-%d %H:%M:%S %z")  # then a zone name
        tags.append(LocalTag(f"{row['Repository']}:{row['Tag']}", row["ID"], created, row["Tag"]))
    latest = next((t.image_id for t in tags if t.tag == "latest"), None)
    return sorted(tags, key=lambda t: _built_at(t, latest), reverse=True)


def _built_at(tag: LocalTag, latest: str | None) -> tuple[str, bool, str]:
    """Tags carry the build time to the second: builds within one second tie, and the one ``latest`` points
    to (each build moves it) is the newest of them."""
    stamp = tag.tag[:14] if _AGENT_TAG.match(tag.tag) else tag.created.astimezone(UTC).strftime("%Y%m%d%H%M%S")
    return stamp, tag.image_id == latest, tag.tag


def remove_old_tags(docker: Docker, name: str, protect: set[str], keep_images: int) -> tuple[list[str], int]:
    """Remove all but the newest ``keep_images`` tags, ``latest`` and protected images; (removed refs, kept)."""
    tags = local_tags(docker, name)
    dated = [t for t in tags if t.tag != "latest"]
    keep = {t.ref for t in dated[:keep_images]} | {t.ref for t in tags if t.tag == "latest" or t.image_id in protect}
    doomed = [t.ref for t in tags if t.ref not in keep]
    if doomed:
        proc = docker.run(f"remove old images of {name}", "image", "rm", *doomed, check=False)
        if proc.returncode != 0:  # e.g. a container still uses one: the others are gone all the same
            refused = [ln.strip() for ln in proc.stderr.splitlines() if ln.strip()]
            docker.detail(f"housekeeping: docker image rm refused some: {' | '.join(refused[-3:])}")
    return doomed, len(keep)


def engine_usage(docker: Docker) -> int:
    """Bytes the engine holds in images, containers and build cache (``docker system df``)."""
    proc = docker.run("disk usage", "system", "df", "--format", "{{json .}}")
    total = 0
    for line in proc.stdout.splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("Type") in _DF_TYPES:
                total += parse_size(row.get("Size", "0B"))
    return total


def prune(docker: Docker, cache_limit_mb: int, filters: Sequence[str] = ()) -> int:
    """Dangling images (the classic builder's leftovers), then BuildKit's cache down to the limit;
    return the usage after. ``filters`` (``docker image prune --filter``) narrow the first."""
    narrow = [arg for f in filters for arg in ("--filter", f)]
    docker.run("prune dangling images", "image", "prune", "--force", *narrow)
    docker.run("prune build cache", "builder", "prune", "--force", "--keep-storage", str(cache_limit_mb * MB))
    return engine_usage(docker)


def parse_size(text: str) -> int:
    """``"1.982MB"`` -> 1982000; docker's ``df`` sizes may carry a suffix (``"1.9GB (50%)"``)."""
    match = _SIZE.match(text)
    if not match:
        raise ImageError(f"docker reported a size that is not one: {text!r}")
    return int(float(match.group(1)) * _UNITS[match.group(2)])
