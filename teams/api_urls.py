"""The rota API under /api/v1/, the OpenAPI schema, its Swagger UI and ReDoc."""

from functools import wraps

from django.urls import path
from rest_framework.routers import SimpleRouter

from teams import api_views

TEAM = r"teams/(?P<slug>[-a-zA-Z0-9_]+)"

# The docs pages load only from this server: ReDoc's bundle would still fetch Redocly's logo from its CDN,
# so the browser is told to load nothing from anywhere else (inline code and blob workers are the bundles').
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' blob:; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; worker-src 'self' blob:; connect-src 'self'"
)


def same_origin_only(view):
    """The view's answer carries DOCS_POLICY as its Content-Security-Policy."""

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        response = view(request, *args, **kwargs)
        response["Content-Security-Policy"] = DOCS_POLICY
        return response

    return wrapped


router = SimpleRouter()
router.register("teams", api_views.TeamViewSet, basename="team")
router.register(f"{TEAM}/members", api_views.MemberViewSet, basename="team-member")
router.register(f"{TEAM}/numbers", api_views.SupportNumberViewSet, basename="team-number")
router.register(f"{TEAM}/rotations", api_views.RotationViewSet, basename="team-rotation")
router.register(f"{TEAM}/shifts", api_views.ShiftViewSet, basename="team-shift")
router.register(f"{TEAM}/overrides", api_views.OverrideViewSet, basename="team-override")
router.register(f"{TEAM}/time-off", api_views.TimeOffViewSet, basename="team-time-off")

urlpatterns = [
    path("teams/<slug:slug>/oncall/", api_views.TeamOnCallView.as_view(), name="team-oncall"),
    path("teams/<slug:slug>/schedule/", api_views.TeamScheduleView.as_view(), name="team-schedule"),
    path("teams/<slug:slug>/gaps/", api_views.TeamGapsView.as_view(), name="team-gaps"),
    path("oncall/", api_views.OnCallView.as_view(), name="oncall"),
    path("schema/", api_views.SchemaView.as_view(), name="api-schema"),
    path("docs/", same_origin_only(api_views.SwaggerView.as_view(url_name="api-schema")), name="api-docs"),
    # drf-spectacular's ReDoc page, less its Google Fonts links.
    path(
        "redoc/",
        same_origin_only(api_views.RedocView.as_view(url_name="api-schema", template_name="api/redoc.html")),
        name="api-redoc",
    ),
    *router.urls,
]
