"""Site-wide error pages: the API answers in its one JSON error shape, everything else in HTML."""

from django.http import JsonResponse
from django.views.defaults import page_not_found, server_error

from teams.api_errors import server_error_body


def not_found(request, exception=None):
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "not_found", "message": "Not found.", "fields": {}}}, status=404)
    return page_not_found(request, exception)


def server_failed(request):
    """A 500 outside the API's own handling (middleware, rendering): JSON under /api/, never an HTML page."""
    if request.path.startswith("/api/"):
        return JsonResponse(server_error_body(), status=500)
    return server_error(request)
