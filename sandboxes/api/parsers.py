"""A JSON parser that never lets a body turn into a 500.

DRF's parser reads the raw WSGI stream, so Django's DATA_UPLOAD_MAX_MEMORY_SIZE never
applies to it; this one enforces SIDESTAGE_MAX_REQUEST_BYTES itself (413). It also
refuses what PostgreSQL cannot store (NUL characters, lone surrogates) with the path
of the offending string, and nesting deep enough to exhaust the stack.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.parsers import BaseParser

from sandboxes.api.errors import PayloadTooLarge

MAX_DEPTH = 32


def max_request_bytes() -> int:
    return int(settings.SIDESTAGE_MAX_REQUEST_BYTES)


def _check_strings(value: Any, path: str, depth: int, problems: dict[str, list[str]]) -> None:
    if depth > MAX_DEPTH:
        raise exceptions.ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.")
    if isinstance(value, str):
        message = _string_problem(value)
        if message:
            problems.setdefault(path or "body", []).append(message)
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else str(key)
            message = _string_problem(key)
            if message:
                problems.setdefault(path or "body", []).append(f"Key {key!r}: {message}")
                continue
            _check_strings(item, child, depth + 1, problems)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_strings(item, f"{path}[{i}]", depth + 1, problems)


def _string_problem(text: str) -> str | None:
    if "\x00" in text:
        return "Null characters are not allowed."
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "Not valid Unicode (a lone surrogate)."
    return None


class SafeJSONParser(BaseParser):
    media_type = "application/json"

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: dict | None = None
    ) -> Any:
        limit = max_request_bytes()
        request = (parser_context or {}).get("request")
        if request is not None:
            try:
                declared = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                declared = 0
            if declared > limit:
                raise PayloadTooLarge()
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge()
        try:
            data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except RecursionError as exc:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from exc
        except ValueError as exc:  # includes UnicodeDecodeError and JSONDecodeError
            raise exceptions.ParseError(f"JSON parse error - {exc}") from exc
        problems: dict[str, list[str]] = {}
        _check_strings(data, "", 0, problems)
        if problems:
            raise exceptions.ValidationError(problems)
        return data


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class BodyLimitMixin:
    """Refuse an oversize body before anything reads it (authentication's CSRF check
    reads form bodies; the parser reads JSON), whatever its content type."""

    def initial(self, request: Any, *args: Any, **kwargs: Any) -> None:
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        if declared > max_request_bytes():
            raise PayloadTooLarge()
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
