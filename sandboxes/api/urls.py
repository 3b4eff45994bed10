from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from django.utils.csp import CSP
from django.views.decorators.csp import csp_override
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView
from rest_framework.routers import SimpleRouter

from sandboxes.api import account_views, schema, views
from sandboxes.api.errors import error_body

assert schema.BearerTokenScheme  # registers the OpenAPI extension

DOCS_CSP = {
    **settings.SECURE_CSP,
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "worker-src": [CSP.SELF, "blob:"],
}

router = SimpleRouter(trailing_slash=False)
router.register("sandboxes", views.SandboxViewSet, basename="api-sandbox")
router.register("services", account_views.ServiceViewSet, basename="api-service")
router.register("tenants", account_views.TenantViewSet, basename="api-tenant")
router.register("tokens", account_views.TokenViewSet, basename="api-token")
router.register("events", account_views.EventViewSet, basename="api-event")


@csrf_exempt
def api_not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Anything else under /api/ answers in the API's error shape, not an HTML page."""
    return JsonResponse(error_body("not_found", "No such API endpoint."), status=404)


urlpatterns = [
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "docs/",
        # ReDoc styles itself with injected <style> tags and runs its search in a blob:
        # worker; this page alone relaxes those two directives (see settings.SECURE_CSP).
        csp_override(DOCS_CSP)(
            SpectacularRedocView.as_view(url_name="api-schema", template_name="api/redoc.html")
        ),
        name="api-docs",
    ),
    re_path(r"^(?P<rest>.*)$", api_not_found),
]
