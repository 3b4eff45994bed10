from django.http import HttpRequest, JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView
from rest_framework.routers import SimpleRouter

from sandboxes.api import account_views, schema, views
from sandboxes.api.errors import error_body

assert schema.BearerTokenScheme  # registers the OpenAPI extension

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
    path("docs/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-docs"),
    re_path(r"^(?P<rest>.*)$", api_not_found),
]
