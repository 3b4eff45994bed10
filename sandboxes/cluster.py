"""A thin layer over the official kubernetes client: server-side apply through the
dynamic client under one field manager, reads, label-selected lists and deletes, each
with a timeout, and retries with exponential backoff on 429, 5xx and connection errors.

One layer of retries: urllib3's own (three by default, on every idempotent request,
each waiting out the read timeout) are switched off in every client built here, so a
hung API server costs `attempts x (connect + read)` and no more. Inside a reconcile,
the run's deadline (sandboxes/budget.py) caps each call's timeout and stops retries
that would outlast it.

Force policy: Sidestage applies with `force=True`. Every object it applies is its own
(named after a sandbox or service, labelled managed-by=sidestage), so a conflict means
somebody edited our fields by hand; the reconciler's job is to heal exactly that
drift. Sidestage never applies to objects it does not own (baseline Deployments and
Services are only read, and a foreign VirtualService is refused, never merged).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import urllib3
from django.conf import settings
from kubernetes import client as k8s_client
from kubernetes import config as k8s_config
from kubernetes.client.rest import ApiException
from kubernetes.config.incluster_config import InClusterConfigLoader
from kubernetes.dynamic import DynamicClient
from kubernetes.dynamic.exceptions import (
    DynamicApiError,
    ResourceNotFoundError,
)

from sandboxes.budget import Deadline, current_deadline
from sandboxes.metrics import instrument_api_client

log = logging.getLogger(__name__)

FIELD_MANAGER = "sidestage"
# (connect, read) seconds for every call; settings override these for the worker.
REQUEST_TIMEOUT = (3.0, 10.0)
# A call is not started with less than this left of the run's budget.
MIN_CALL_SECONDS = 0.5
RETRYABLE_STATUS = {429, 500, 502, 503, 504}


class ClusterError(Exception):
    """A cluster call failed. `transient` errors are retried with backoff; the rest
    land in a condition with a reason a person can act on."""

    def __init__(self, reason: str, message: str, *, transient: bool, status: int = 0) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.transient = transient
        self.status = status


@dataclass
class CallStats:
    """What a client did: the benchmark and the no-op resync test read this."""

    reads: int = 0
    mutations: int = 0
    retries: int = 0
    mutated: list[str] = field(default_factory=list)

    def reset(self) -> None:
        self.reads = self.mutations = self.retries = 0
        self.mutated.clear()


def _status_of(exc: BaseException) -> int:
    status = getattr(exc, "status", None)
    return int(status) if isinstance(status, int) else 0


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, ApiException | DynamicApiError):
        return _status_of(exc) in RETRYABLE_STATUS or _status_of(exc) == 0
    return isinstance(exc, urllib3.exceptions.HTTPError | ConnectionError | TimeoutError | OSError)


def _message_of(exc: BaseException) -> str:
    body = getattr(exc, "body", None)
    if body:
        text = body.decode() if isinstance(body, bytes) else str(body)
        return text[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


def without_urllib3_retries(api_client: k8s_client.ApiClient) -> k8s_client.ApiClient:
    """Switch off urllib3's retries in a built client (ours are the only layer).

    The pool manager copies `Configuration.retries` when the client is built, so a
    client built elsewhere (a test's, `new_client_from_config`'s) gets it set on its
    pool manager and on any pool already open."""
    api_client.configuration.retries = False
    manager = api_client.rest_client.pool_manager
    manager.connection_pool_kw["retries"] = False
    for key in list(manager.pools.keys()):
        pool = manager.pools.get(key)
        if pool is not None:
            pool.retries = urllib3.util.Retry.from_int(False)
    return api_client


def _timeout_within(timeout: tuple[float, float], deadline: Deadline | None) -> tuple[float, float]:
    if deadline is None:
        return timeout
    left = max(deadline.remaining(), MIN_CALL_SECONDS)
    return (min(timeout[0], left), min(timeout[1], left))


class Cluster:
    """One API server. Thread-safe for the calls we make; one per worker process."""

    def __init__(
        self,
        api_client: k8s_client.ApiClient,
        *,
        retries: int = 2,
        backoff_seconds: float = 0.2,
        timeout: tuple[float, float] = REQUEST_TIMEOUT,
        namespaces: tuple[str, ...] = (),
    ) -> None:
        self.api_client = without_urllib3_retries(api_client)
        # Namespaced RBAC: a cluster-wide list becomes one list per namespace.
        self.namespaces = namespaces
        instrument_api_client(self.api_client)
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.timeout = timeout
        self.stats = CallStats()
        self._dynamic: DynamicClient | None = None
        self._resources: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()
        self._bound_untimed_requests()

    def _bound_untimed_requests(self) -> None:
        """Discovery (DynamicClient) sends its requests with no timeout at all; give
        every request that has none the per-call timeout, within the run's deadline."""
        rest = self.api_client.rest_client
        original = rest.request
        cluster = self

        def request(*args: Any, _request_timeout: Any = None, **kwargs: Any) -> Any:
            if not _request_timeout:
                _request_timeout = _timeout_within(cluster.timeout, current_deadline())
            return original(*args, _request_timeout=_request_timeout, **kwargs)

        rest.request = request

    # --- plumbing -------------------------------------------------------------------------
    def _call(self, what: str, fn: Any, *, mutating: bool | None) -> Any:
        """Run `fn(timeout)` with our retries; inside a reconcile, never past its
        deadline. Raises ClusterError("ClusterUnreachable", transient) when the server
        does not answer in time, naming the call and what went wrong. `mutating=None`:
        discovery, not counted in the stats."""
        delay = self.backoff_seconds
        deadline = current_deadline()
        last_error = ""
        for attempt in range(self.retries + 1):
            if deadline is not None:
                deadline.doing = what
                if deadline.remaining() < MIN_CALL_SECONDS:
                    raise ClusterError(
                        "ClusterUnreachable",
                        f"The reconcile used up its {deadline.budget:.0f} s time budget "
                        f"and stopped before: {what}."
                        + (f" Last error: {last_error}" if last_error else ""),
                        transient=True,
                    )
            try:
                result = fn(_timeout_within(self.timeout, deadline))
            except ResourceNotFoundError as exc:
                raise ClusterError(
                    "CRDMissing",
                    f"{what}: the API server does not serve it ({exc})",
                    transient=False,
                ) from exc
            except Exception as exc:
                if not _is_transient(exc):
                    raise
                last_error = _message_of(exc)
                out_of_time = deadline is not None and deadline.remaining() < delay
                if attempt == self.retries or out_of_time:
                    raise ClusterError(
                        "ClusterUnreachable",
                        f"{what} failed after {attempt + 1} attempt(s)"
                        + (" (no time left to retry)" if out_of_time else "")
                        + f": {last_error}",
                        transient=True,
                        status=_status_of(exc),
                    ) from exc
                self.stats.retries += 1
                log.info("retrying %s in %.1fs: %s", what, delay, _message_of(exc))
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if mutating:
                self.stats.mutations += 1
                self.stats.mutated.append(what)
            elif mutating is False:
                self.stats.reads += 1
            return result
        raise AssertionError("unreachable")

    @property
    def dynamic(self) -> DynamicClient:
        with self._lock:
            if self._dynamic is None:
                # Discovery is the expensive part; the client caches it afterwards.
                self._dynamic = self._call(
                    "API discovery", lambda _t: DynamicClient(self.api_client), mutating=None
                )
            return self._dynamic

    def resource(self, api_version: str, kind: str) -> Any:
        key = (api_version, kind)
        if key not in self._resources:
            dynamic = self.dynamic
            try:
                # May ask the server (lazy discovery): the same retries and deadline.
                self._resources[key] = self._call(
                    f"discover {kind}.{api_version}",
                    lambda _t: dynamic.resources.get(api_version=api_version, kind=kind),
                    mutating=None,
                )
            except ClusterError as exc:
                if exc.reason != "CRDMissing":
                    raise
                raise ClusterError(
                    "CRDMissing",
                    f"{kind}.{api_version} is not installed in the cluster; install its CRD.",
                    transient=False,
                ) from exc
        return self._resources[key]

    # --- the calls --------------------------------------------------------------------------
    def get(self, api_version: str, kind: str, name: str, namespace: str) -> dict | None:
        resource = self.resource(api_version, kind)
        try:
            obj = self._call(
                f"get {kind} {namespace}/{name}",
                lambda t: resource.get(name=name, namespace=namespace, _request_timeout=t),
                mutating=False,
            )
        except (ApiException, DynamicApiError) as exc:
            if _status_of(exc) == 404:
                return None
            raise self._permanent(f"get {kind} {namespace}/{name}", exc) from exc
        return obj.to_dict()

    def list(
        self,
        api_version: str,
        kind: str,
        *,
        label_selector: str,
        namespace: str | None = None,
    ) -> list[dict]:
        if namespace is None and self.namespaces:
            return [
                item
                for ns in self.namespaces
                for item in self.list(
                    api_version, kind, label_selector=label_selector, namespace=ns
                )
            ]
        resource = self.resource(api_version, kind)
        try:
            result = self._call(
                f"list {kind} {label_selector}",
                lambda t: resource.get(
                    namespace=namespace, label_selector=label_selector, _request_timeout=t
                ),
                mutating=False,
            )
        except (ApiException, DynamicApiError) as exc:
            raise self._permanent(f"list {kind}", exc) from exc
        items = result.to_dict().get("items", [])
        for item in items:  # lists omit these per item
            item.setdefault("apiVersion", api_version)
            item.setdefault("kind", kind)
        return items

    def apply(self, obj: dict) -> dict:
        meta = obj["metadata"]
        what = f"apply {obj['kind']} {meta.get('namespace', '')}/{meta['name']}"
        resource = self.resource(obj["apiVersion"], obj["kind"])
        try:
            result = self._call(
                what,
                lambda t: resource.server_side_apply(
                    body=obj,
                    name=meta["name"],
                    namespace=meta.get("namespace"),
                    field_manager=FIELD_MANAGER,
                    force_conflicts=True,
                    _request_timeout=t,
                ),
                mutating=True,
            )
        except (ApiException, DynamicApiError) as exc:
            raise self._permanent(what, exc) from exc
        return result.to_dict()

    def delete(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        *,
        propagation: str = "Background",
    ) -> bool:
        """Delete one object; False if it was already gone (idempotent)."""
        resource = self.resource(api_version, kind)
        what = f"delete {kind} {namespace}/{name}"
        try:
            self._call(
                what,
                lambda t: resource.delete(
                    name=name,
                    namespace=namespace,
                    propagation_policy=propagation,
                    _request_timeout=t,
                ),
                mutating=True,
            )
        except (ApiException, DynamicApiError) as exc:
            if _status_of(exc) == 404:
                return False
            raise self._permanent(what, exc) from exc
        return True

    @staticmethod
    def _permanent(what: str, exc: BaseException) -> ClusterError:
        status = _status_of(exc)
        reason = {403: "Forbidden", 409: "Conflict", 422: "Invalid"}.get(status, "ApplyRejected")
        return ClusterError(
            reason, f"{what}: HTTP {status}: {_message_of(exc)}", transient=False, status=status
        )


_cluster: Cluster | None = None
_cluster_lock = threading.Lock()


def cluster_from_settings() -> Cluster | None:
    """The configured cluster, or None in render-only mode (SIDESTAGE_CLUSTER=none)."""
    global _cluster
    mode = settings.SIDESTAGE_CLUSTER
    if mode == "none":
        return None
    with _cluster_lock:
        if _cluster is None:
            configuration = k8s_client.Configuration()
            if mode == "in-cluster":
                # The loader re-reads the projected token as the kubelet rotates it.
                account = settings.SIDESTAGE_SERVICEACCOUNT_DIR
                InClusterConfigLoader(
                    token_filename=str(account / "token"), cert_filename=str(account / "ca.crt")
                ).load_and_set(configuration)
            else:
                k8s_config.load_kube_config(
                    config_file=settings.SIDESTAGE_KUBECONFIG or None,
                    context=settings.SIDESTAGE_KUBE_CONTEXT or None,
                    client_configuration=configuration,
                )
            # One layer of retries: ours (see the module docstring).
            configuration.retries = False
            _cluster = Cluster(
                k8s_client.ApiClient(configuration),
                retries=max(settings.SIDESTAGE_KUBE_ATTEMPTS - 1, 0),
                timeout=(
                    float(settings.SIDESTAGE_KUBE_CONNECT_TIMEOUT),
                    float(settings.SIDESTAGE_KUBE_READ_TIMEOUT),
                ),
                namespaces=tuple(settings.SIDESTAGE_NAMESPACES),
            )
        return _cluster


def reset_cluster_cache() -> None:
    """Forget the process-wide client (tests switch clusters; settings may change)."""
    global _cluster
    with _cluster_lock:
        _cluster = None
