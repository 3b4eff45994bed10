"""Sidestage settings: one module, driven entirely by environment variables.

With nothing set, Sidestage runs as the embedded default: SQLite and a filesystem
Celery broker under `var/`, and no cluster (the reconciler renders only). The README
has a table of every variable.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import dj_database_url
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from portal.env import env_bool, env_int, env_list, env_secret, env_str, local_secret_key

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("SIDESTAGE_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)

# Production sets SECRET_KEY (or SECRET_KEY_FILE). The embedded default generates a
# random key once and keeps it in var/, so sessions survive restarts and no key is
# ever hard-coded.
SECRET_KEY = env_secret("SECRET_KEY") or local_secret_key(VAR_DIR / "secret_key")

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]" if DEBUG else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "django_htmx",
    "axes",
    "portal",
    "sandboxes",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # An htmx request after the session ended: HX-Redirect to the login page.
    "portal.htmx_session.HtmxLoginRedirectMiddleware",
    # Last, so it sees a view's exception first: JSON 500s under /api/.
    "portal.errors.ApiErrorMiddleware",
    # django-axes wants to be last: it turns a lockout raised by its backend into the
    # lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -----------------------------------------------------------------------
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'sidestage.sqlite3'}",
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
SQLITE_BUSY_TIMEOUT_MS = env_int("SIDESTAGE_SQLITE_BUSY_TIMEOUT_MS", 30_000)
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # The embedded default runs web, worker and beat against one file: WAL lets readers
    # proceed during a write, and IMMEDIATE takes the write lock up front instead of
    # failing with "database is locked" half-way through a transaction. SQLite has one
    # writer at a time and its busy handler is not a fair queue, so a writer may wait
    # behind many others: the busy timeout is long (30 s) so that contention means
    # waiting, not an error (five seconds failed under 20 clients on a loaded machine).
    DATABASES["default"]["OPTIONS"] = {
        "init_command": f"PRAGMA journal_mode=WAL; PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS};",
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis: the Celery broker and the cache -----------------------------------------
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    _visibility_timeout = env_int("CELERY_VISIBILITY_TIMEOUT", 300)
    CELERY_BROKER_URL = REDIS_URL
    # A message a killed worker held (acks_late) is redelivered after this. It must
    # outlast the longest task (CELERY_TASK_TIME_LIMIT) plus the longest countdown we
    # schedule (SIDESTAGE_RECONCILE_MAX_BACKOFF), or a slow task would run twice at once.
    # The Redis server must persist (appendonly yes) for queued messages to survive a
    # restart; see docs/architecture.md, "The time budget, and faults".
    # kombu sweeps for such messages every interval x throttle seconds (100 s by
    # default); every 10 s is one cheap scan per worker and brings a dead worker's
    # reconcile back within visibility_timeout + 10 s.
    CELERY_BROKER_TRANSPORT_OPTIONS: dict[str, object] = {
        "visibility_timeout": _visibility_timeout,
        "unacked_restore_interval": 10,
        "unacked_restore_throttle": 1,
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "sidestage",
        }
    }
else:
    # The embedded default: a broker and a cache that need no server, shared by the
    # web, worker and beat processes through files under var/.
    _broker_dir = VAR_DIR / "celery-broker"
    # kombu's filesystem transport does not create its folders; every process that
    # publishes or consumes needs them.
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(VAR_DIR / "cache"),
        }
    }

# --- Celery ---------------------------------------------------------------------------
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_ACKS_LATE = True
# A worker that dies mid-task gives the message back, so the reconcile runs again.
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# --- The reconcile's time budget (docs/architecture.md, "The time budget") -----------
# Chosen together, innermost first. One API call: connect + read timeout. One layer of
# retries (ours, in sandboxes/cluster.py; urllib3's are off): KUBE_ATTEMPTS tries with
# 0.2 s, 0.4 s... between them, so one hung call is given up after about
# 3 x (3 + 10) + 0.6 = 40 s. A reconcile stops starting calls once its budget (60 s)
# is spent, records ClusterUnreachable, commits and is requeued; the soft limit
# (120 s) is the backstop for anything that ignores the budget, the hard limit (180 s)
# for anything that ignores the soft one, and the broker's visibility timeout (300 s)
# must outlast the hard limit plus the longest requeue countdown.
SIDESTAGE_KUBE_CONNECT_TIMEOUT = env_int("SIDESTAGE_KUBE_CONNECT_TIMEOUT", 3)
SIDESTAGE_KUBE_READ_TIMEOUT = env_int("SIDESTAGE_KUBE_READ_TIMEOUT", 10)
SIDESTAGE_KUBE_ATTEMPTS = env_int("SIDESTAGE_KUBE_ATTEMPTS", 3)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 120)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 180)
SIDESTAGE_RECONCILE_BUDGET_SECONDS = env_int(
    "SIDESTAGE_RECONCILE_BUDGET_SECONDS", CELERY_TASK_SOFT_TIME_LIMIT // 2
)
# Requeue backoff after a transient failure: 1, 2, 4... seconds, capped here, so a
# sandbox touched during an outage converges within this long after the end of it.
SIDESTAGE_RECONCILE_MAX_BACKOFF = env_int("SIDESTAGE_RECONCILE_MAX_BACKOFF", 30)
# How long a "reconcile already queued" claim lives (sandboxes/queueing.py): a queue
# deeper than this only costs a duplicate run; a lost message delays later changes at
# most this long (the periodic resync catches up too).
# 0 switches coalescing off (every change publishes; bench/e2e.py compares the two).
SIDESTAGE_RECONCILE_COALESCE_SECONDS = env_int("SIDESTAGE_RECONCILE_COALESCE_SECONDS", 120)
# Readiness polls while forks roll out (sandboxes/reconcile.py, readiness_poll_seconds):
# the first countdown, doubled on each poll up to the last one.
SIDESTAGE_READINESS_POLL_MS = env_int("SIDESTAGE_READINESS_POLL_MS", 200)
SIDESTAGE_READINESS_POLL_MAX_MS = env_int("SIDESTAGE_READINESS_POLL_MAX_MS", 3000)
if not (
    0
    < SIDESTAGE_RECONCILE_BUDGET_SECONDS
    <= CELERY_TASK_SOFT_TIME_LIMIT - 2
    < CELERY_TASK_TIME_LIMIT - 2
):
    raise ImproperlyConfigured(
        "The reconcile budget must end before CELERY_TASK_SOFT_TIME_LIMIT, and the soft "
        "limit before CELERY_TASK_TIME_LIMIT (at least 2 s apart each): got "
        f"{SIDESTAGE_RECONCILE_BUDGET_SECONDS}, {CELERY_TASK_SOFT_TIME_LIMIT}, "
        f"{CELERY_TASK_TIME_LIMIT}."
    )
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A publish (the on_commit enqueue of a reconcile) that finds the broker restarting
# keeps trying for about 10 s instead of failing after Celery's default of ~1 s: a
# Redis restart takes a second or two, and a message that was never sent is only
# healed by the next resync.
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 12,
    "interval_start": 0.2,
    "interval_step": 0.3,
    "interval_max": 1.5,
}
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
SIDESTAGE_RESYNC_SECONDS = env_int("SIDESTAGE_RESYNC_SECONDS", 300)
SIDESTAGE_EXPIRE_SECONDS = env_int("SIDESTAGE_EXPIRE_SECONDS", 60)
# The catalog (sandboxes/catalog/): which namespaces discovery reads (empty: none,
# discovery is off), how often, and the Backstage catalog-info.yaml paths or URLs.
SIDESTAGE_DISCOVERY_NAMESPACES = env_list("SIDESTAGE_DISCOVERY_NAMESPACES")
SIDESTAGE_CATALOG_SYNC_SECONDS = env_int("SIDESTAGE_CATALOG_SYNC_SECONDS", 300)
SIDESTAGE_BACKSTAGE_SOURCES = env_list("SIDESTAGE_BACKSTAGE_SOURCES")
CELERY_BEAT_SCHEDULE = {
    "sync-catalog": {
        "task": "sandboxes.tasks.sync_catalog",
        "schedule": float(SIDESTAGE_CATALOG_SYNC_SECONDS),
    },
    "expire-sandboxes": {
        "task": "sandboxes.tasks.expire_sandboxes",
        "schedule": float(SIDESTAGE_EXPIRE_SECONDS),
    },
    "resync-sandboxes": {
        "task": "sandboxes.tasks.resync_sandboxes",
        "schedule": float(SIDESTAGE_RESYNC_SECONDS),
    },
    "sweep-orphans": {
        "task": "sandboxes.tasks.sweep_orphans",
        "schedule": float(SIDESTAGE_RESYNC_SECONDS * 3),
    },
    "purge-idempotency-keys": {
        "task": "sandboxes.tasks.purge_idempotency_keys",
        "schedule": crontab(minute=17),
    },
    "expire-approvals": {
        "task": "sandboxes.tasks.expire_approvals",
        "schedule": crontab(minute="*"),
    },
}

# --- The cluster ------------------------------------------------------------------------
# "none": render only (manifests go to var/manifests/, Ready stays False/NoCluster).
# "kubeconfig": use SIDESTAGE_KUBECONFIG (or $KUBECONFIG). "in-cluster": the pod's
# service account.
SIDESTAGE_CLUSTER = env_str("SIDESTAGE_CLUSTER", "none")
if SIDESTAGE_CLUSTER not in {"none", "kubeconfig", "in-cluster"}:
    raise ImproperlyConfigured("SIDESTAGE_CLUSTER must be one of: none, kubeconfig, in-cluster")
SIDESTAGE_KUBECONFIG = env_str("SIDESTAGE_KUBECONFIG", env_str("KUBECONFIG"))
SIDESTAGE_KUBE_CONTEXT = env_str("SIDESTAGE_KUBE_CONTEXT")
# in-cluster: where the pod's ServiceAccount token and CA are mounted (tests point it
# at a directory laid out the same way).
SIDESTAGE_SERVICEACCOUNT_DIR = Path(
    env_str("SIDESTAGE_SERVICEACCOUNT_DIR", "/var/run/secrets/kubernetes.io/serviceaccount")
)
# Namespaced RBAC (the chart's rbac.scope=namespaced): the namespaces Sidestage may act
# in. Cluster-wide lists become one list per namespace; empty means cluster-wide.
SIDESTAGE_NAMESPACES = env_list("SIDESTAGE_NAMESPACES")
# Bearer token for /metrics (and the worker pods' metrics endpoint); unset: /metrics is 404.
SIDESTAGE_METRICS_TOKEN = env_secret("SIDESTAGE_METRICS_TOKEN")
SIDESTAGE_MANIFEST_DIR = Path(env_str("SIDESTAGE_MANIFEST_DIR", str(VAR_DIR / "manifests")))

# --- Mesh telemetry (the Routing panel, docs/routing.md) ------------------------------------
# A Prometheus-compatible HTTP API that scrapes the cluster's mesh proxies. Empty: the
# panel says telemetry is not configured. The token (or *_FILE) goes in a Bearer header.
SIDESTAGE_PROMETHEUS_URL = env_str("SIDESTAGE_PROMETHEUS_URL")
SIDESTAGE_PROMETHEUS_TOKEN = env_secret("SIDESTAGE_PROMETHEUS_TOKEN")
SIDESTAGE_PROMETHEUS_TIMEOUT = env_int("SIDESTAGE_PROMETHEUS_TIMEOUT", 5)

# --- Routing on the wire ------------------------------------------------------------------
SIDESTAGE_ROUTE_HEADER = env_str("SIDESTAGE_ROUTE_HEADER", "x-sidestage-route")
SIDESTAGE_BAGGAGE_KEY = env_str("SIDESTAGE_BAGGAGE_KEY", "sidestage")

# --- Limits -----------------------------------------------------------------------------
SIDESTAGE_MAX_REQUEST_BYTES = env_int("SIDESTAGE_MAX_REQUEST_BYTES", 256 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = SIDESTAGE_MAX_REQUEST_BYTES
SIDESTAGE_API_THROTTLE = env_str("SIDESTAGE_API_THROTTLE", "600/min")

# --- Auth -------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: it refuses a locked-out login before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"

# --- Login throttling (django-axes) -------------------------------------------------------
# /accounts/login/ and /admin/login/ both go through django.contrib.auth's
# authenticate(), which axes watches. After AXES_FAILURE_LIMIT failures for one
# username from one client address, that pair is locked out for AXES_COOLOFF_MINUTES;
# a lockout during the cool-off restarts it. The pair, not the username alone: a
# username-only lockout would let anyone lock a lead out of the portal by guessing
# badly on purpose. Attempts for unknown usernames are counted and locked exactly like
# real ones, and the lockout page never names the account, so it reveals nothing.
# The database handler (not the cache one): attempts survive a restart or a cache
# flush, are visible in /admin/ (Access attempts) for an incident review, and a test's
# transaction rolls them back. A login is rare enough that the extra row costs nothing.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "portal.auth.lockout_response"
# Behind a reverse proxy every request comes from the proxy's address, so all users
# would share one bucket per username. SIDESTAGE_TRUSTED_PROXIES says how many proxies
# append to X-Forwarded-For in front of the portal; the client address is then the
# entry that many places from the right (the left-most entries are the client's own
# and can be forged). 0 (the default): REMOTE_ADDR, the right choice without a proxy.
SIDESTAGE_TRUSTED_PROXIES = env_int("SIDESTAGE_TRUSTED_PROXIES", 0)
AXES_CLIENT_IP_CALLABLE = "portal.auth.client_ip"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "login"

# --- Security (check --deploy is clean when DEBUG is off) ---------------------------------
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
# HSTS preload commits the whole domain and its subdomains to HTTPS in every browser
# for months and is slow to undo: the operator opts in (SECURE_HSTS_PRELOAD=true), so
# `check --deploy --fail-level WARNING` must not fail on the off default.
SILENCED_SYSTEM_CHECKS = ["security.W021"]
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy on every response (Django's own middleware). Nothing is
# loaded from another origin: htmx and ReDoc are vendored under static/vendor/. No
# inline script or style anywhere; htmx's indicator styles are off (its meta config)
# and the rules live in sidestage.css. The API docs page alone allows inline styles and
# a blob: worker for ReDoc (sandboxes/api/urls.py). Reports go to the browser console;
# SECURE_CSP_REPORT_URI sends them to a collector as well.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
if _csp_report_uri := env_str("SECURE_CSP_REPORT_URI"):
    SECURE_CSP["report-uri"] = [_csp_report_uri]

# --- I18N / static --------------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
SPECTACULAR_REDOC_DIST = f"/{STATIC_URL}vendor/redoc-2.5.4"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG and env_bool("SIDESTAGE_MANIFEST_STATIC", True)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- DRF ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "portal.auth.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "sandboxes.api.pagination.CappedPageNumberPagination",
    "PAGE_SIZE": 50,
    "EXCEPTION_HANDLER": "sandboxes.api.errors.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["portal.auth.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": SIDESTAGE_API_THROTTLE},
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PARSER_CLASSES": ["sandboxes.api.parsers.SafeJSONParser"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Sidestage API",
    "DESCRIPTION": "Request-level-isolated sandboxes on a shared Kubernetes staging cluster.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The vendored copy (static/vendor/README.md), never a CDN.
    "REDOC_DIST": SPECTACULAR_REDOC_DIST,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "sandboxes.api.schema.add_error_responses",
        "sandboxes.api.schema.describe_input_rules",
    ],
    "ENUM_NAME_OVERRIDES": {
        "ProfileEnum": "sandboxes.models.Profile",
        "TenantKindEnum": "sandboxes.models.TenantKind",
        "ConditionStatusEnum": ["True", "False", "Unknown"],
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"kubernetes": {"level": "WARNING"}, "urllib3": {"level": "WARNING"}},
}
