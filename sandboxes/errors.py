"""The one error type that services raise for bad input, with field-level messages.

The API turns it into `{"error": {"code", "message", "fields": {...}}}`; the UI puts
each message beside its field. Field paths are dotted, with list indexes, e.g.
`forks[0].image` or `forks[1].env[2].name`.
"""

from __future__ import annotations


class SidestageError(Exception):
    """Base for errors a person can act on. `code` is stable; `message` is for humans."""

    code = "error"
    status = 400

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class ValidationFailed(SidestageError):
    code = "invalid"
    status = 400

    def __init__(self, fields: dict[str, list[str]], message: str | None = None) -> None:
        self.fields = {key: list(messages) for key, messages in fields.items() if messages}
        summary = message or "; ".join(
            f"{key}: {msgs[0]}" for key, msgs in list(self.fields.items())[:3]
        )
        super().__init__(summary or "Invalid input.")


class NameTaken(ValidationFailed):
    """A name that must be unique is taken, perhaps by a request that ran at the same
    time: a conflict (409), still reported beside the field it concerns."""

    code = "conflict"
    status = 409


class NotAllowed(SidestageError):
    """The actor may not do this (a role, or the four-eyes rule)."""

    code = "forbidden"
    status = 403


class QuotaExceeded(SidestageError):
    code = "quota_exceeded"
    status = 403


class Conflict(SidestageError):
    code = "conflict"
    status = 409


class FieldErrors:
    """Collects messages per field, so one request reports every problem at once."""

    def __init__(self) -> None:
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, []).append(message)

    def __bool__(self) -> bool:
        return bool(self.fields)

    def raise_if_any(self) -> None:
        if self.fields:
            raise ValidationFailed(self.fields)
