"""Page-number pagination with a hard cap on page size."""

from typing import Any

from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination

from sandboxes.validation import ascii_int


class CappedPageNumberPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Any) -> int:
        """DRF ignores a bad `page_size` and serves the default; a client that asked for
        something else should hear about it. Above the cap is capped, as documented."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        value = ascii_int(raw)
        if value is None or value < 1:
            raise ValidationError({"page_size": ["Must be a whole number from 1."]})
        return min(value, self.max_page_size)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        params = super().get_schema_operation_parameters(view)
        for param in params:
            if param["name"] in (self.page_size_query_param, self.page_query_param):
                param["schema"] = {"type": "integer", "minimum": 1}
        return params
