"""The OpenAPI schema: generated without warnings and valid; and the API answers as it says (schemathesis,
in-process through WSGI, GET operations only so the fixture data stays put; a few examples per operation)."""

import json

import pytest
import schemathesis
import time_machine
from django.core.cache import cache
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.renderers import OpenApiJsonRenderer
from hypothesis import HealthCheck, Phase, settings
from schemathesis import GenerationConfig

from telephony.models import Alert
from tests.teams.world import WORLD_NOW as NOW
from tests.teams.world import build_world


def test_schema_generates_without_warnings_and_validates(tmp_path):
    target = tmp_path / "schema.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(target))
    text = target.read_text()
    for path in ("/api/v1/teams/{slug}/oncall/", "/api/v1/oncall/", "/api/v1/teams/{slug}/rotations/{id}/"):
        assert f"{path}:" in text
    assert "tokenAuth" in text


def _raw_schema() -> dict:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return json.loads(OpenApiJsonRenderer().render(schema, renderer_context={}))


# Credentials are ours (a lead's token), not generated: then schemathesis also checks that the API refuses
# the same request without them or with a wrong token.
schema = schemathesis.from_dict(
    _raw_schema(), app=get_wsgi_application(), generation_config=GenerationConfig(with_security_parameters=False)
)

# Path parameters point at the fixture's real objects (random ids would only ever meet 404s).
REAL_IDS: dict[str, int] = {}


@schema.hook
def map_path_parameters(context, path_parameters):
    path = context.operation.path
    if not path_parameters:
        return path_parameters
    if "slug" in path_parameters:
        path_parameters["slug"] = "alpha"
    for name in path_parameters:
        if name == "id" or name.endswith("_id"):
            resource = path.split(f"/{{{name}}}")[0].rsplit("/", 1)[-1]
            path_parameters[name] = REAL_IDS.get(resource, path_parameters[name])
    return path_parameters


@pytest.fixture
def _keep_test_connection():
    # Like Django's test client: the raw WSGI handler would close the test's connection (it is inside the test
    # transaction) at the end of every request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def lead_key(db, _keep_test_connection):
    cache.clear()
    with time_machine.travel(NOW, tick=False):
        world = build_world()
    alpha = world.alpha
    REAL_IDS.update(
        members=world.others[0].pk,
        numbers=alpha.numbers.get().pk,
        rotations=world.rotation.pk,
        shifts=world.shift.pk,
        overrides=world.override.pk,
        calls=alpha.calls.get().pk,
        voicemails=alpha.voicemails.get().pk,
        messages=alpha.messages.get().pk,
        alerts=Alert.objects.create(team=alpha, summary="Disk full").pk,
    )
    yield world.keys["lead"]
    cache.clear()


@schema.parametrize(method="GET")
@settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_answers_as_the_schema_says(case, lead_key):
    headers = {"Authorization": f"Token {lead_key}"}
    # The ignored-auth check writes a wrong credential into these; they start as None without parameters.
    case.headers = case.headers or {}
    case.cookies = case.cookies or {}
    response = case.call_wsgi(headers=headers)
    case.validate_response(response, headers=headers, transport_kwargs={"headers": headers})
