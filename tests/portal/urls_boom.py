"""The portal's URLs plus one API endpoint that fails like a bug would (test only)."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from portal import urls


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug in a view that is not a DRF view")


urlpatterns = [path("api/test-boom", boom), path("test-boom", boom), *urls.urlpatterns]
handler400 = urls.handler400
handler403 = urls.handler403
handler404 = urls.handler404
handler500 = urls.handler500
