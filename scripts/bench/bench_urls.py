"""The project's URLs plus the bare baseline: what a webhook that keeps a call log cannot do with less.

`POST /telephony/voice/bare/`: the signature check (twilio's RequestValidator, as the project does), one
INSERT of the Call through the ORM, a constant TwiML answer. Same settings, middleware, gunicorn and
database as the project's incoming call; only the view differs.
"""

from django.conf import settings
from django.http import HttpResponse, HttpResponseForbidden
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from twilio.request_validator import RequestValidator

from roulette.urls import handler404, handler500  # noqa: F401
from roulette.urls import urlpatterns as project_urlpatterns
from telephony.models import Call

TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Hello.</Say><Hangup/></Response>'


@csrf_exempt
def bare_incoming(request):
    url = settings.PUBLIC_BASE_URL + request.get_full_path()
    if not RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(
        url, request.POST, request.headers.get("X-Twilio-Signature", "")
    ):
        return HttpResponseForbidden()
    Call.objects.create(
        call_sid=request.POST["CallSid"],
        from_number=request.POST.get("From", ""),
        to_number=request.POST.get("To", ""),
        status=request.POST.get("CallStatus", ""),
    )
    return HttpResponse(TWIML, content_type="text/xml")


urlpatterns = [path("telephony/voice/bare/", bare_incoming), *project_urlpatterns]
