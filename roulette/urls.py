from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from roulette.health import healthz
from roulette.metrics import metrics
from telephony.admin.home import lead_home
from telephony.admin.report import team_report_page
from telephony.admin.usage import team_usage

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    # The lead's home replaces the admin's stock index; "/" (the admin's "View site") leads there too.
    path("admin/", admin.site.admin_view(lead_home), name="lead_home"),
    path("admin/report/<slug:slug>/", admin.site.admin_view(team_report_page), name="team_report_page"),
    path("admin/usage/<slug:slug>/", admin.site.admin_view(team_usage), name="team_usage"),
    path("admin/", admin.site.urls),
    path("", RedirectView.as_view(pattern_name="admin:index"), name="home"),
    path("telephony/", include("telephony.urls")),
    path("api/v1/", include("roulette.api_urls")),
    path("calendar/", include("teams.calendar_urls")),
]

handler404 = "roulette.errors.not_found"
handler500 = "roulette.errors.server_failed"
