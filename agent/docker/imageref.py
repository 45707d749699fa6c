"""Parse container image references the way Docker's distribution/reference grammar does.

The seed rewrote tags with a sed regex that broke on registries with ports, digests and
other images; deciding which container takes a new image needs the registry host and the
repository path as values, so every caller goes through this one tested parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
_LEGACY_HUB_HOSTS = ("index.docker.io", "registry-1.docker.io", "registry.hub.docker.com")

_HOST_LABEL = r"(?:[A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9])"
_DOMAIN_RE = re.compile(rf"^(?:{_HOST_LABEL}(?:\.{_HOST_LABEL})*|\[[0-9A-Fa-f:.]+\])(?::[0-9]+)?$")
_COMPONENT_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST_RE = re.compile(r"^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$")
_SHA256_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
_ECR_RE = re.compile(r"^(?P<account>[0-9]{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")
_MAX_NAME = 255


class ImageRefError(ValueError):
    """Not a valid image reference; the message quotes it and names the bad part."""


@dataclass(frozen=True)
class ImageRef:
    """One image reference. ``registry`` is ``docker.io`` when the text names no registry;
    ``repository`` is the path inside the registry (``library/nginx`` for ``nginx`` on Docker Hub)."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def name(self) -> str:
        """``registry/repository``: what identifies "the same image, any version"."""
        return f"{self.registry}/{self.repository}"

    @property
    def ecr_account_region(self) -> tuple[str, str] | None:
        """(account, region) when the registry is a private ECR registry, else None."""
        match = _ECR_RE.match(self.registry)
        return (match["account"], match["region"]) if match else None

    def same_repository(self, other: ImageRef) -> bool:
        return self.registry == other.registry and self.repository == other.repository

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def normalize_repository(path: str, registry: str = DOCKER_HUB) -> str:
    """Docker Hub's official images live under ``library/``; other registries take paths as they are."""
    if registry == DOCKER_HUB and "/" not in path:
        return f"library/{path}"
    return path


def parse_image(text: str) -> ImageRef:
    """Split ``[host[:port]/]path[:tag][@digest]`` into its parts, or raise ImageRefError."""
    if not isinstance(text, str) or not text.strip():
        raise ImageRefError(f"empty image reference: {text!r}")
    if text != text.strip() or any(ch.isspace() for ch in text):
        raise ImageRefError(f"image reference contains whitespace: {text!r}")
    rest, digest = _split_digest(text)
    rest, tag = _split_tag(rest, text)
    registry, path = _split_registry(rest, text)
    _check_path(path, text)
    if len(f"{registry}/{path}") > _MAX_NAME:
        raise ImageRefError(f"image name longer than {_MAX_NAME} characters: {text!r}")
    return ImageRef(registry, normalize_repository(path, registry), tag, digest)


def _split_digest(text: str) -> tuple[str, str | None]:
    name, sep, digest = text.partition("@")
    if not sep:
        return text, None
    if not _DIGEST_RE.match(digest) or (digest.startswith("sha256:") and not _SHA256_RE.match(digest)):
        raise ImageRefError(f"bad digest {digest!r} in image reference {text!r} (expected sha256:<64 hex>)")
    return name, digest


def _split_tag(rest: str, text: str) -> tuple[str, str | None]:
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon <= slash:
        return rest, None
    tag = rest[colon + 1:]
    if not _TAG_RE.match(tag):
        raise ImageRefError(f"bad tag {tag!r} in image reference {text!r}")
    return rest[:colon], tag


def _split_registry(rest: str, text: str) -> tuple[str, str]:
    first, sep, remainder = rest.partition("/")
    is_host = sep and ("." in first or ":" in first or first == "localhost" or first.startswith("["))
    if not is_host:
        return DOCKER_HUB, rest
    if not _DOMAIN_RE.match(first):
        raise ImageRefError(f"bad registry host {first!r} in image reference {text!r}")
    host = DOCKER_HUB if first.lower() in _LEGACY_HUB_HOSTS else first
    return host, remainder


def _check_path(path: str, text: str) -> None:
    if not path:
        raise ImageRefError(f"image reference has no repository path: {text!r}")
    for component in path.split("/"):
        if not _COMPONENT_RE.match(component):
            raise ImageRefError(
                f"bad repository path component {component!r} in image reference {text!r} "
                "(lowercase letters, digits and single . _ - separators)"
            )
