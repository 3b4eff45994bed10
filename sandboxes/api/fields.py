"""Strict DRF fields: they parse the shape of a value and never coerce ("3" is not an
integer, 3 is not a string). Whether a value makes sense is the services' business."""

from __future__ import annotations

import re
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from sandboxes.validation import ascii_int

MAX_DURATION_SECONDS = 10**9
# ASCII digits only: `\d` and int() would take Arabic-Indic "12h" for 12 hours.
_DURATION_RE = re.compile(r"^([0-9]{1,9})([smhd]?)\Z", re.ASCII)
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class StrictCharField(serializers.CharField):
    default_error_messages = {"invalid": "Must be a string."}

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictIntegerField(serializers.IntegerField):
    default_error_messages = {"invalid": "Must be an integer."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return data


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "description": "Seconds."},
            {
                "type": "string",
                "pattern": r"^[0-9]{1,9}[smhd]?$",
                "maxLength": 10,
                "description": "A duration such as 3600, 90m, 8h or 2d.",
            },
        ]
    }
)
class DurationSecondsField(serializers.Field):
    """A TTL in whole seconds, or a short duration string (`90m`, `8h`, `2d`)."""

    default_error_messages = {
        "invalid": "Must be a whole number of seconds or a duration like 90m, 8h or 2d.",
        "too_large": "Must be at most 1000000000 seconds.",
    }

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool):
            self.fail("invalid")
        seconds: int | None = None
        if isinstance(data, int):
            seconds = data
        elif isinstance(data, str):
            match = _DURATION_RE.match(data)
            if match:
                seconds = int(match.group(1)) * _UNIT_SECONDS[match.group(2)]
        if seconds is None:
            self.fail("invalid")
        # Far beyond any TTL the services allow, and far below what timedelta can hold:
        # the services give the precise bound, this only keeps arithmetic safe.
        if abs(seconds) > MAX_DURATION_SECONDS:
            self.fail("too_large")
        return seconds

    def to_representation(self, value: Any) -> int:
        return int(value)


class AsciiIntegerField(serializers.IntegerField):
    """An integer query parameter: ASCII digits only (DRF's IntegerField runs `int()`,
    which reads "١٢" as 12)."""

    default_error_messages = {"invalid": "Must be a whole number in ASCII digits."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool):
            self.fail("invalid")
        if isinstance(data, str):
            value = ascii_int(data)
            if value is None:
                self.fail("invalid")
            data = value
        return super().to_internal_value(data)


class StrictDictField(serializers.DictField):
    default_error_messages = {"not_a_dict": "Must be an object."}


class StrictListField(serializers.ListField):
    default_error_messages = {"not_a_list": "Must be a list."}

    def to_internal_value(self, data: Any) -> list:
        if isinstance(data, str | dict) or not hasattr(data, "__iter__"):
            self.fail("not_a_list", input_type=type(data).__name__)
        return super().to_internal_value(data)


OPEN_DICT = extend_schema_field(OpenApiTypes.OBJECT)
