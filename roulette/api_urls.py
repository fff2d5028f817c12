"""Everything under /api/v1/: the rota API (teams app) and the logs and alerts (telephony app)."""

from django.urls import include, path

urlpatterns = [
    path("", include("teams.api_urls")),
    path("", include("telephony.api_urls")),
]
