"""A small httpx client for the Sidestage API, configured from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

USER_AGENT = "sidestage-cli/1"


class ConfigError(Exception):
    """SIDESTAGE_URL or SIDESTAGE_TOKEN is missing or unusable."""


class ApiError(Exception):
    """The API answered with an error (the one error shape), or could not be reached."""

    def __init__(self, status: int, code: str, message: str, fields: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields or {}

    @property
    def unavailable(self) -> bool:
        return self.status == 0 or self.status >= 500

    def describe(self) -> str:
        lines = [f"error: {self.message} ({self.code}, HTTP {self.status})"]
        lines += [f"  {field}: {m}" for field, msgs in self.fields.items() for m in msgs]
        return "\n".join(lines)


@dataclass
class Client:
    base_url: str
    token: str
    timeout: float = 30.0
    transport: httpx.BaseTransport | None = None

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Client:
        env = dict(os.environ) if env is None else env
        url = env.get("SIDESTAGE_URL", "").strip().rstrip("/")
        token = env.get("SIDESTAGE_TOKEN", "").strip()
        if not url:
            raise ConfigError(
                "Set SIDESTAGE_URL to the portal's address, e.g. https://sidestage.example.com"
            )
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"SIDESTAGE_URL must start with http:// or https:// (got {url!r})")
        if not token:
            raise ConfigError("Set SIDESTAGE_TOKEN to an API token (sst_...)")
        return cls(base_url=url, token=token)

    def _http(self, timeout: float | None = None) -> httpx.Client:
        return httpx.Client(
            base_url=f"{self.base_url}/api/v1/",
            headers={
                "Authorization": f"Bearer {self.token}",
                "Accept": "application/json",
                "User-Agent": USER_AGENT,
            },
            timeout=timeout or self.timeout,
            transport=self.transport,
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        timeout: float | None = None,
    ) -> Any:
        params = {k: v for k, v in (params or {}).items() if v not in (None, "", [])}
        try:
            with self._http(timeout) as http:
                response = http.request(method, path, params=params, json=json)
        except httpx.HTTPError as exc:
            raise ApiError(0, "unreachable", f"Cannot reach {self.base_url}: {exc}") from exc
        if response.status_code >= 400:
            raise _error_from(response)
        return response.json() if response.content else None

    # --- Sandboxes ----------------------------------------------------------------------------
    def apply(self, document: dict[str, Any], tenant: str | None = None) -> Any:
        return self.request(
            "PUT",
            f"sandboxes/{_seg(document.get('name'))}",
            params={"tenant": tenant},
            json=document,
        )

    def list_sandboxes(self, **filters: Any) -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        page = 1
        while True:
            body = self.request("GET", "sandboxes", params={**filters, "page": page})
            results.extend(body["results"])
            if not body.get("next"):
                return results
            page += 1

    def get(self, name: str, tenant: str | None = None) -> Any:
        return self.request("GET", f"sandboxes/{_seg(name)}", params={"tenant": tenant})

    def delete(self, name: str, tenant: str | None = None) -> Any:
        return self.request("DELETE", f"sandboxes/{_seg(name)}", params={"tenant": tenant})

    def extend(self, name: str, ttl: str | int, tenant: str | None = None) -> Any:
        return self.request(
            "POST", f"sandboxes/{_seg(name)}/extend", params={"tenant": tenant}, json={"ttl": ttl}
        )

    def wait_once(self, name: str, seconds: int, tenant: str | None = None) -> Any:
        return self.request(
            "GET",
            f"sandboxes/{_seg(name)}/wait",
            params={"tenant": tenant, "timeout": seconds},
            timeout=seconds + 30,
        )

    def snippet(
        self, name: str, fmt: str, tenant: str | None = None, url: str | None = None
    ) -> Any:
        return self.request(
            "GET",
            f"sandboxes/{_seg(name)}/snippets/{_seg(fmt)}",
            params={"tenant": tenant, "url": url},
        )

    def traffic(self, name: str, window: str | None = None, tenant: str | None = None) -> Any:
        return self.request(
            "GET",
            f"sandboxes/{_seg(name)}/traffic",
            params={"tenant": tenant, "window": window},
        )


def _seg(value: Any) -> str:
    return quote(str(value or ""), safe="")


def _error_from(response: httpx.Response) -> ApiError:
    try:
        error = response.json()["error"]
        return ApiError(
            response.status_code, str(error["code"]), str(error["message"]), error.get("fields")
        )
    except (ValueError, KeyError, TypeError):
        text = response.text.strip().splitlines()[0][:200] if response.text.strip() else ""
        return ApiError(response.status_code, "http_error", text or response.reason_phrase)
