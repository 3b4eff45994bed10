"""`Idempotency-Key` on POST, after the IETF draft "The Idempotency-Key HTTP Header
Field" (draft-ietf-httpapi-idempotency-key-header): a client that retries a POST with
the same key gets the first response again instead of a second object.

- The key is scoped to the caller (the API token, or the signed-in user) and kept for
  24 hours (`IDEMPOTENCY_TTL`; Celery beat purges older keys).
- The key is claimed, the request runs and the response is stored in ONE transaction.
  A concurrent request with the same key waits on the claim's unique index until the
  first commits, then replays its response: one object, the same answer. If the first
  fails, nothing is stored and the waiting request runs itself.
- The same key with a different request (method, path or body) is a 422, as the draft
  says. Only successful responses are stored: an error leaves no trace, so a client can
  fix its request and retry with the same key.
- A replayed response carries `Idempotent-Replayed: true`.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter
from rest_framework.request import Request
from rest_framework.response import Response

from sandboxes.errors import SidestageError, ValidationFailed
from sandboxes.models import IDEMPOTENCY_KEY_MAX, ApiToken, IdempotencyKey
from sandboxes.services import IDEMPOTENCY_TTL

HEADER = "Idempotency-Key"
# Visible ASCII, as a draft sf-string holds; no quotes needed, quoting tolerated.
_KEY_RE = re.compile(rf'^"?([\x21\x23-\x7e]{{1,{IDEMPOTENCY_KEY_MAX}}})"?\Z')


IDEMPOTENCY_PARAM = OpenApiParameter(
    HEADER,
    str,
    OpenApiParameter.HEADER,
    description="Makes a retried POST safe: the same key and request within 24 hours "
    "get the first response again (`Idempotent-Replayed: true`); the same key with a "
    "different request is a 422. See docs/api.md, 'Retries and idempotency'.",
    pattern=r"^[\x21\x23-\x7e]{1,255}$",
)


class KeyReused(SidestageError):
    """The key was used for a different request."""

    code = "idempotency_key_reused"
    status = 422


def _scope(request: Request) -> str:
    if isinstance(request.auth, ApiToken):
        return f"token:{request.auth.pk}"
    return f"user:{request.user.pk}"


def _fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, separators=(",", ":"), default=str)
    text = f"{request.method}\n{request.get_full_path()}\n{body}"
    return hashlib.sha256(text.encode()).hexdigest()


def _replay(stored: IdempotencyKey, fingerprint: str) -> Response:
    if stored.fingerprint != fingerprint:
        raise KeyReused(
            f"This {HEADER} was already used for a different request; "
            "use a new key for a new request."
        )
    headers = {"Idempotent-Replayed": "true"}
    if stored.location:
        headers["Location"] = stored.location
    return Response(stored.response, status=stored.status_code, headers=headers)


def idempotent(view: Callable[..., Response]) -> Callable[..., Response]:
    """Honour `Idempotency-Key` on a POST view method; without the header, a no-op."""

    @wraps(view)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        raw = request.headers.get(HEADER)
        if raw is None:
            return view(self, request, *args, **kwargs)
        match = _KEY_RE.match(raw)
        if not match:
            raise ValidationFailed(
                {HEADER: [f"Must be 1 to {IDEMPOTENCY_KEY_MAX} visible ASCII characters."]}
            )
        key, scope, fingerprint = match.group(1), _scope(request), _fingerprint(request)
        now = timezone.now()
        with transaction.atomic():
            # A key older than the TTL that beat has not purged yet counts as gone.
            IdempotencyKey.objects.filter(
                scope=scope, key=key, created_at__lte=now - IDEMPOTENCY_TTL
            ).delete()
            try:
                with transaction.atomic():
                    claim = IdempotencyKey.objects.create(
                        scope=scope, key=key, fingerprint=fingerprint, created_at=now
                    )
            except IntegrityError:
                # Another request with this key committed first (we waited for it).
                return _replay(IdempotencyKey.objects.get(scope=scope, key=key), fingerprint)
            response = view(self, request, *args, **kwargs)
            if 200 <= response.status_code < 300:
                claim.status_code = response.status_code
                claim.response = response.data
                claim.location = response.get("Location", "")
                claim.save(update_fields=["status_code", "response", "location"])
            else:
                claim.delete()
        return response

    return wrapper
