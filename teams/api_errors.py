"""One JSON error shape for the API: {"error": {"code", "message", "fields": {name: [messages]}}}."""

import logging

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext
from rest_framework import exceptions, parsers, status
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from teams.errors import RotaError

logger = logging.getLogger(__name__)


def _fields(detail) -> dict:
    if isinstance(detail, dict):
        return {
            key: [str(item) for item in (value if isinstance(value, list) else [value])]
            if not isinstance(value, dict)
            else _fields(value)
            for key, value in detail.items()
        }
    return {}


def exception_handler(exc, context):
    # Django's own 404 and 403 (get_object_or_404 and friends) carry the same codes as the API's.
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(*exc.args)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(*exc.args)
    elif isinstance(exc, RotaError):
        fields = {exc.field: [exc.message]} if exc.field else {}
        exc = exceptions.ValidationError(fields or {"non_field_errors": [exc.message]})
    elif isinstance(exc, DjangoValidationError):
        if hasattr(exc, "error_dict"):
            # Model-wide errors (NON_FIELD_ERRORS, "__all__") read as the API's non_field_errors.
            exc = exceptions.ValidationError(
                {
                    ("non_field_errors" if key == NON_FIELD_ERRORS else key): [str(m) for m in messages]
                    for key, messages in exc.message_dict.items()
                }
            )
        else:
            exc = exceptions.ValidationError({"non_field_errors": exc.messages})
    response = drf_exception_handler(exc, context)
    if response is None:
        # Anything unexpected: logged with its traceback, answered in the error shape (never an HTML page).
        request = context.get("request")
        logger.error("Unexpected API error on %s", getattr(request, "path", "?"), exc_info=exc)
        response = Response(status=status.HTTP_500_INTERNAL_SERVER_ERROR)
        response.data = server_error_body()
        _answer_in_json(context)
        return response
    detail = response.data
    if isinstance(exc, exceptions.ValidationError):
        fields = _fields(detail) if isinstance(detail, dict) else {"non_field_errors": [str(d) for d in detail]}
        messages = fields.pop("non_field_errors", [])
        first = (
            messages[0]
            if messages
            else next(
                (f"{name}: {msgs[0]}" for name, msgs in fields.items() if isinstance(msgs, list) and msgs),
                "Invalid input.",
            )
        )
        if messages:
            fields["non_field_errors"] = messages
        body = {"error": {"code": "invalid", "message": first, "fields": fields}}
        response.status_code = status.HTTP_400_BAD_REQUEST
    else:
        message = detail.get("detail", str(detail)) if isinstance(detail, dict) else str(detail)
        code = getattr(getattr(exc, "detail", None), "code", None) or getattr(exc, "default_code", "error")
        body = {"error": {"code": str(code), "message": str(message), "fields": {}}}
    response.data = body
    _answer_in_json(context)
    return response


def server_error_body() -> dict:
    message = gettext("Something went wrong on our side; it was logged. Try again later.")
    return {"error": {"code": "server_error", "message": message, "fields": {}}}


def _answer_in_json(context) -> None:
    """Errors are JSON whatever was negotiated for the answer (the Swagger page's HTML template, the schema's
    YAML): only the browsable API keeps its page, which shows the same JSON body."""
    request = context.get("request")
    renderer = getattr(request, "accepted_renderer", None)
    if request is None or isinstance(renderer, JSONRenderer | BrowsableAPIRenderer):
        return
    request.accepted_renderer = JSONRenderer()
    request.accepted_media_type = "application/json"


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with a body nested too deeply for Python's parser answered 400 like any bad JSON
    (json raises RecursionError there, which is no ValueError)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise exceptions.ParseError(gettext("JSON parse error - the body is nested too deeply.")) from exc


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "fields"],
            "properties": {
                "code": {"type": "string", "example": "invalid"},
                "message": {"type": "string", "example": "end: The end must be after the start."},
                "fields": {
                    "type": "object",
                    "description": "Messages per input field (nested for nested input).",
                    "additionalProperties": True,
                },
            },
        }
    },
}
ERROR_RESPONSES = {
    "400": "Invalid input; `fields` names what is wrong.",
    "401": "No or an invalid token.",
    "403": "Not allowed for your role (or an alerts-only token).",
    "404": "No such object, or it belongs to a team you cannot see.",
    "429": "Too many requests for this token; retry after the Retry-After header's seconds.",
}


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: document the one error shape on every operation."""
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    reference = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            for code, description in ERROR_RESPONSES.items():
                responses.setdefault(code, {"description": description, "content": reference})
    return result
