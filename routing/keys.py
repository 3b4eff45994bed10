"""Routing keys: generation and validation. How keys map onto forks is in ``routing.plan``."""

from __future__ import annotations

import re
import secrets

ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
ROUTING_KEY_LENGTH = 20  # 20 * log2(36) ~ 103 bits
# 16 base-36 characters is ~82.7 bits, the least we accept from anywhere.
MIN_KEY_LENGTH = 16
MAX_KEY_LENGTH = 40
_KEY_RE = re.compile(rf"[a-z0-9]{{{MIN_KEY_LENGTH},{MAX_KEY_LENGTH}}}")


def generate_routing_key() -> str:
    """A fresh, unguessable routing key: 20 characters of ``[a-z0-9]`` from ``secrets``."""
    return "".join(secrets.choice(ALPHABET) for _ in range(ROUTING_KEY_LENGTH))


def is_valid_routing_key(value: object) -> bool:
    """True for 16 to 40 characters of ``[a-z0-9]`` (at least 80 bits when random).

    The alphabet is what keeps keys safe to embed in regexes, header values, object
    names and label values without escaping.
    """
    return isinstance(value, str) and bool(_KEY_RE.fullmatch(value))
