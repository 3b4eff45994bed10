"""API authentication: bearer tokens (stored hashed) and a per-token throttle.

A token looks like `sst_<lookup id>_<secret>`. The lookup id finds the row; the whole
string is compared by SHA-256 in constant time. `request.auth` is the ApiToken, so
selectors can narrow the scope to the token's tenant or team.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Q
from django.http import HttpRequest
from django.shortcuts import render
from django.utils import timezone
from rest_framework import authentication, exceptions, throttling
from rest_framework.request import Request

from portal import ratelimit
from sandboxes.models import TOKEN_PREFIX, ApiToken

# Writing last_used_at on every request would turn reads into writes (on SQLite every
# GET would queue for the one write lock); once a minute is enough to answer "is this
# token still in use?".
LAST_USED_RESOLUTION = timedelta(minutes=1)


def record_last_used(token: ApiToken, now: datetime) -> None:
    """At most one write per token per minute, however many requests arrive at once:
    an atomic `cache.add` elects one request per interval (Redis in production; the
    file cache of the embedded default), and the UPDATE is conditional, so a cache that
    forgot the key still writes nothing when the column is fresh."""
    stale = now - LAST_USED_RESOLUTION
    if token.last_used_at is not None and token.last_used_at > stale:
        return
    # Keyed by what the request read: every request that saw this stale value races
    # for one key, and a fresh value needs no key at all. The lookup id is random, so
    # no other token (or a recreated database) can hold this key.
    seen = token.last_used_at.timestamp() if token.last_used_at else "never"
    key = f"token-last-used-{token.lookup_id}-{seen}"
    if not cache.add(key, 1, LAST_USED_RESOLUTION.total_seconds()):
        return
    ApiToken.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale), pk=token.pk
    ).update(last_used_at=now)
    token.last_used_at = now


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, credentials = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        credentials = credentials.strip()
        if not credentials.startswith(TOKEN_PREFIX) or credentials.count("_") < 2:
            raise exceptions.AuthenticationFailed("Malformed API token.")
        lookup_id = credentials[len(TOKEN_PREFIX) :].split("_", 1)[0]
        token = (
            ApiToken.objects.select_related("user", "team", "tenant")
            .filter(lookup_id=lookup_id)
            .first()
        )
        if token is None or not token.matches(credentials):
            raise exceptions.AuthenticationFailed("Invalid API token.")
        now = timezone.now()
        if not token.is_usable(now):
            raise exceptions.AuthenticationFailed("This API token is revoked or expired.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token's user is inactive.")
        record_last_used(token, now)
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="sidestage"'


class TokenRateThrottle(throttling.SimpleRateThrottle):
    """One bucket per API token (per user for session auth, per address otherwise).

    DRF's own throttle reads the history, decides, and writes it back: two requests in
    parallel both read "599 of 600" and both pass, so a fleet of parallel clients on
    one token got far more than the limit. Here the decision and the write are one
    atomic step (`portal.ratelimit`): a Lua script in Redis, shared by every web
    process, or a file lock in the embedded default."""

    scope = "token"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def allow_request(self, request: Request, view: Any) -> bool:
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        allowed, self._wait = ratelimit.hit(self.key, self.num_requests, self.duration)
        return allowed

    def wait(self) -> float | None:
        return getattr(self, "_wait", None)


# --- Login throttling (django-axes) ------------------------------------------------------
def client_ip(request: HttpRequest) -> str | None:
    """The client's address for login throttling (settings: SIDESTAGE_TRUSTED_PROXIES)."""
    trusted = settings.SIDESTAGE_TRUSTED_PROXIES
    if trusted > 0:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        hops = [h for h in hops if h]
        if len(hops) >= trusted:
            return hops[-trusted]
    return request.META.get("REMOTE_ADDR")


def lockout_response(request: HttpRequest, response: Any = None, credentials: Any = None) -> Any:
    """One page for every lockout: it names no account, so a locked-out unknown username
    looks exactly like a locked-out real one. 429, as axes answers by default."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "registration/locked_out.html", {"cooloff_minutes": minutes}, status=429)
