from django.contrib import admin
from django.urls import include, path

from roulette.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("telephony/", include("telephony.urls")),
    path("api/v1/", include("roulette.api_urls")),
    path("calendar/", include("teams.calendar_urls")),
]

handler404 = "roulette.errors.not_found"
handler500 = "roulette.errors.server_failed"
