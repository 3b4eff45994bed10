"""Pure validation rules for what people send us. Each returns a list of messages
(empty when valid), so callers can collect every problem of a request at once.

Everything here is ASCII by construction: character classes are spelled out
(`[0-9]`, never `\\d` or `\\w`, which in Python's `re` also match Arabic-Indic digits
and every Unicode letter), patterns are compiled with `re.ASCII` as a second guard, and
numbers from text go through `ascii_int`, never a bare `int()` (which accepts `"١٢"`).
Every length limit is the database column's (tests/sandboxes/test_validation_ascii.py
checks them against the models)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

SANDBOX_NAME_MAX = 40
# \Z, not $: `$` also matches before a trailing newline ("pr-1\n").
DNS1123_LABEL_RE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?\Z", re.ASCII)
ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z", re.ASCII)
ASCII_INT_RE = re.compile(r"^-?[0-9]{1,18}\Z", re.ASCII)
ENV_NAME_MAX = 128
ENV_VALUE_MAX_BYTES = 32 * 1024
ENV_TOTAL_MAX_BYTES = 128 * 1024
ENV_MAX_ITEMS = 100
LABELS_MAX_ITEMS = 32
LABEL_VALUE_MAX = 63
DESCRIPTION_MAX = 500
# Names the reconciler sets itself; a fork may not override them.
RESERVED_ENV_NAMES = frozenset({"SIDESTAGE_SANDBOX", "SIDESTAGE_ROUTING_KEY"})


def ascii_int(text: Any) -> int | None:
    """The integer spelled by `text` in ASCII digits (an optional '-'), or None.

    `int()` alone accepts any Unicode decimal digit and surrounding whitespace, and
    `str.isdigit()` is True for "²", which `int()` then refuses with a ValueError."""
    if isinstance(text, str) and ASCII_INT_RE.match(text):
        return int(text)
    return None


def dns1123_label_errors(value: Any, *, max_length: int = 63) -> list[str]:
    if not isinstance(value, str) or value == "":
        return ["This field is required."]
    errors = []
    if len(value) > max_length:
        errors.append(f"Must be at most {max_length} characters (got {len(value)}).")
    if not DNS1123_LABEL_RE.match(value):
        errors.append(
            "Must be a DNS-1123 label: lowercase letters, digits and '-', "
            "starting and ending with a letter or digit."
        )
    return errors


# --- Image references --------------------------------------------------------------------
# The grammar of github.com/distribution/reference (what Docker and containerd parse),
# with the OCI image-spec's registered digests (sha256: 64, sha512: 128 lowercase hex).
# ASCII only: a tag of `\w` would let `:тест` or `:v` + an Arabic-Indic digit through.
_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_HOST = rf"(?:{_DOMAIN_NAME}|{_IPV6})"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
_DIGEST = r"sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128}"
_REMOTE_NAME = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
IMAGE_REFERENCE_RE = re.compile(
    rf"^(?P<name>(?:(?P<domain>{_DOMAIN})/)?(?P<path>{_REMOTE_NAME}))"
    rf"(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?\Z",
    re.ASCII,
)
# Fork.image's column. name (255) + tag (1 + 128) + digest (1 + 135) could reach 520.
IMAGE_REFERENCE_MAX = 512
IMAGE_NAME_MAX = 255
DEFAULT_REGISTRY = "docker.io"


@dataclass(frozen=True)
class ImageReference:
    registry: str
    path: str
    tag: str | None
    digest: str | None

    @property
    def repository(self) -> str:
        return f"{self.registry}/{self.path}"


def parse_image_reference(value: str) -> ImageReference | None:
    """Parse and normalise like distribution/reference: a first component is a registry
    only if it has a '.' or ':' or is 'localhost'; otherwise the image is on Docker Hub."""
    if not value.isascii() or len(value) > IMAGE_REFERENCE_MAX:
        return None
    match = IMAGE_REFERENCE_RE.match(value)
    if not match or len(match.group("name")) > IMAGE_NAME_MAX:
        return None
    domain, path = match.group("domain"), match.group("path")
    if domain and not ("." in domain or ":" in domain or domain == "localhost"):
        # "team/app" is a Docker Hub repository, not a registry called "team".
        path, domain = f"{domain}/{path}", None
    if domain is None:
        domain = DEFAULT_REGISTRY
        if "/" not in path:
            path = f"library/{path}"
    elif any(c.isupper() for c in path):
        return None
    return ImageReference(domain, path, match.group("tag"), match.group("digest"))


def image_reference_errors(value: Any) -> list[str]:
    if not isinstance(value, str):
        return ["Must be a string."]
    if value == "":
        return []  # empty: keep the baseline's image
    if value != value.strip() or any(c.isspace() for c in value):
        return ["An image reference may not contain whitespace."]
    if len(value) > IMAGE_REFERENCE_MAX:
        return [f"At most {IMAGE_REFERENCE_MAX} characters (got {len(value)})."]
    if not value.isascii():
        return ["An image reference is ASCII only (letters, digits, '.', '_', '-', '/', ':', '@')."]
    if parse_image_reference(value) is None:
        return [
            "Not a valid image reference. Expected [registry[:port]/]name[:tag][@digest], "
            "e.g. ghcr.io/acme/orders:1.4.2 (lowercase repository name up to 255 characters, "
            "tag of letters, digits, '_', '.', '-' up to 128 characters, digest "
            "sha256:<64 lowercase hex> or sha512:<128 lowercase hex>)."
        ]
    return []


def registry_allowed(image: str, allowed: list[str]) -> bool:
    """True if the image's repository is under one of the allowed registry prefixes.

    Entries match whole path components: "ghcr.io/acme" allows "ghcr.io/acme/x" but not
    "ghcr.io/acmecorp/x"; "docker.io/library" allows official images."""
    ref = parse_image_reference(image)
    if ref is None:
        return False
    repository = ref.repository
    for entry in allowed:
        entry = entry.strip().rstrip("/")
        if entry and (repository == entry or repository.startswith(entry + "/")):
            return True
    return False


# --- Env -------------------------------------------------------------------------------------
def env_errors(env: Any, prefix: str = "env") -> dict[str, list[str]]:
    """Validate `[{"name": ..., "value": ...}]`; returns messages keyed by field path."""
    errors: dict[str, list[str]] = {}
    if not isinstance(env, list):
        return {prefix: ['Must be a list of {"name": ..., "value": ...} objects.']}
    if len(env) > ENV_MAX_ITEMS:
        errors[prefix] = [f"At most {ENV_MAX_ITEMS} variables (got {len(env)})."]
    seen: set[str] = set()
    total = 0
    for i, item in enumerate(env):
        path = f"{prefix}[{i}]"
        if not isinstance(item, dict):
            errors[path] = ['Must be an object with "name" and "value".']
            continue
        unknown = set(item) - {"name", "value"}
        if unknown:
            errors[path] = [f"Unknown keys: {', '.join(sorted(map(str, unknown)))}."]
        name, value = item.get("name"), item.get("value", "")
        name_errors = []
        if not isinstance(name, str) or not name:
            name_errors.append("This field is required.")
        else:
            if len(name) > ENV_NAME_MAX:
                name_errors.append(f"At most {ENV_NAME_MAX} characters.")
            if not ENV_NAME_RE.match(name):
                name_errors.append(
                    "Must be a C identifier: letters, digits and '_', not starting with a digit."
                )
            elif name in RESERVED_ENV_NAMES:
                name_errors.append(f"{name} is set by Sidestage and cannot be overridden.")
            elif name in seen:
                name_errors.append(f"{name} is set twice.")
            seen.add(name)
        if name_errors:
            errors[f"{path}.name"] = name_errors
        if not isinstance(value, str):
            errors[f"{path}.value"] = ["Must be a string."]
            continue
        size = len(value.encode())
        total += size
        if size > ENV_VALUE_MAX_BYTES:
            errors[f"{path}.value"] = [f"At most {ENV_VALUE_MAX_BYTES} bytes (got {size})."]
        if "\x00" in value:
            errors.setdefault(f"{path}.value", []).append("May not contain NUL characters.")
    if total > ENV_TOTAL_MAX_BYTES:
        errors.setdefault(prefix, []).append(
            f"All values together may be at most {ENV_TOTAL_MAX_BYTES} bytes (got {total})."
        )
    return errors


def text_errors(value: Any, *, max_length: int, required: bool = False) -> list[str]:
    """Free text (descriptions, reasons, notes, names of things): a string, within its
    length, and without NUL, which PostgreSQL refuses in text and JSON alike."""
    if not isinstance(value, str):
        return ["Must be a string."]
    if required and not value.strip():
        return ["This field is required."]
    if len(value) > max_length:
        return [f"At most {max_length} characters (got {len(value)})."]
    if "\x00" in value:
        return ["May not contain NUL characters."]
    return []


def replicas_errors(value: Any, maximum: int) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int):
        return ["Must be an integer."]
    if value < 0 or value > maximum:
        return [f"Must be between 0 and {maximum} (the team's limit)."]
    return []


def ttl_errors(value: Any, maximum: timedelta) -> list[str]:
    if isinstance(value, bool) or not isinstance(value, int):
        return ["Must be a whole number of seconds."]
    if value <= 0:
        return ["Must be greater than 0 seconds."]
    if value > maximum.total_seconds():
        return [f"Must be at most {int(maximum.total_seconds())} seconds (the team's maximum)."]
    return []


def labels_errors(value: Any) -> list[str]:
    if not isinstance(value, dict):
        return ["Must be an object of string keys to string values."]
    if len(value) > LABELS_MAX_ITEMS:
        return [f"At most {LABELS_MAX_ITEMS} labels."]
    for key, item in value.items():
        if not isinstance(key, str) or dns1123_label_errors(key, max_length=63):
            return [f"Label key {key!r} must be a DNS-1123 label."]
        if not isinstance(item, str) or len(item) > LABEL_VALUE_MAX or "\x00" in item:
            return [f"Label {key!r} must be a string of at most {LABEL_VALUE_MAX} characters."]
    return []
