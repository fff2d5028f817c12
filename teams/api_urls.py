"""The rota API under /api/v1/, the OpenAPI schema and its Swagger UI."""

from django.urls import path
from rest_framework.routers import SimpleRouter

from teams import api_views

TEAM = r"teams/(?P<slug>[-a-zA-Z0-9_]+)"

router = SimpleRouter()
router.register("teams", api_views.TeamViewSet, basename="team")
router.register(f"{TEAM}/members", api_views.MemberViewSet, basename="team-member")
router.register(f"{TEAM}/numbers", api_views.SupportNumberViewSet, basename="team-number")
router.register(f"{TEAM}/rotations", api_views.RotationViewSet, basename="team-rotation")
router.register(f"{TEAM}/shifts", api_views.ShiftViewSet, basename="team-shift")
router.register(f"{TEAM}/overrides", api_views.OverrideViewSet, basename="team-override")

urlpatterns = [
    path("teams/<slug:slug>/oncall/", api_views.TeamOnCallView.as_view(), name="team-oncall"),
    path("teams/<slug:slug>/schedule/", api_views.TeamScheduleView.as_view(), name="team-schedule"),
    path("teams/<slug:slug>/gaps/", api_views.TeamGapsView.as_view(), name="team-gaps"),
    path("oncall/", api_views.OnCallView.as_view(), name="oncall"),
    path("schema/", api_views.SchemaView.as_view(), name="api-schema"),
    path("docs/", api_views.SwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    *router.urls,
]
