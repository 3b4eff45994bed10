"""An exact sliding-window rate limit: at most `limit` hits per `window` seconds for a
key, however many processes and threads ask at once.

With Redis (production), one Lua script prunes the key's log of hits, counts it, and
adds the new hit only if the count is below the limit. Redis runs a script atomically,
so N parallel requests against a limit of L get exactly min(N, L) yeses, across every
web process and host. Time comes from the Redis server (`TIME`), so web hosts with
skewed clocks still share one window.

The embedded default has no Redis: the log is kept in Django's cache (files under
`var/cache/`) and the read-decide-write runs under an exclusive `flock` on
`var/ratelimit.lock`. That is exact for every process and thread on this machine (the
embedded default is one machine by definition); it is not meant for several hosts
sharing a cache, which is what Redis is for.
"""

from __future__ import annotations

import fcntl
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from django.conf import settings
from django.core.cache import cache as django_cache
from django.core.cache.backends.base import BaseCache

KEY_PREFIX = "sidestage:ratelimit:"

# KEYS[1]: the log (a sorted set of hits scored by milliseconds).
# ARGV: window in ms, limit, a unique member for this hit.
# Returns {1, 0} when allowed, {0, ms until the oldest hit leaves the window} when not.
_SLIDING_WINDOW_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local count = redis.call('ZCARD', KEYS[1])
if count < limit then
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window)
  return {1, 0}
end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
local wait = window
if oldest[2] then wait = tonumber(oldest[2]) + window - now end
return {0, wait}
"""


@cache
def _redis_script(url: str):
    import redis

    client = redis.Redis.from_url(url)
    return client.register_script(_SLIDING_WINDOW_LUA)


def redis_hit(url: str, key: str, limit: int, window: float) -> tuple[bool, float | None]:
    member = f"{time.time_ns()}-{secrets.token_hex(4)}"
    allowed, wait_ms = _redis_script(url)(
        keys=[KEY_PREFIX + key], args=[max(1, int(window * 1000)), limit, member]
    )
    return bool(allowed), None if allowed else max(0.0, int(wait_ms) / 1000)


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Each call opens its own file description, so threads of one process exclude
    # each other as well as other processes.
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def locked_cache_hit(
    lock_path: Path, key: str, limit: int, window: float, store: BaseCache | None = None
) -> tuple[bool, float | None]:
    store = django_cache if store is None else store
    cache_key = KEY_PREFIX + key
    with _file_lock(lock_path):
        now = time.time()
        history = [t for t in store.get(cache_key, []) if t > now - window]
        if len(history) >= limit:
            return False, max(0.0, history[0] + window - now)
        history.append(now)
        store.set(cache_key, history, int(window) + 1)
        return True, None


def hit(key: str, limit: int, window: float) -> tuple[bool, float | None]:
    """Record a hit on `key` if fewer than `limit` happened in the last `window`
    seconds. Returns (allowed, seconds to wait when refused)."""
    url = getattr(settings, "REDIS_URL", None)
    if url:
        return redis_hit(url, key, limit, window)
    return locked_cache_hit(Path(settings.VAR_DIR) / "ratelimit.lock", key, limit, window)
