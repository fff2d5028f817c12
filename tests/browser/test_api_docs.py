"""The API's documentation pages render in a real browser with every other host blocked: nothing from a CDN."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_swagger_ui_renders_the_api_without_any_other_host(page, login, lead_user):
    login(lead_user)
    page.goto(page.base_url + "/api/v1/docs/")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    assert page.locator(".swagger-ui .opblock").count() > 10
    assert "Support Roulette API" in page.inner_text(".swagger-ui .info")
    assert "/api/v1/teams/{slug}/oncall/" in page.inner_text(".swagger-ui")
    assert page.blocked == []


def test_redoc_renders_the_api_without_any_other_host(page, login, lead_user):
    login(lead_user)
    page.goto(page.base_url + "/api/v1/redoc/")
    page.wait_for_selector("redoc .api-content, .api-content", timeout=20_000)
    assert "Support Roulette API" in page.inner_text("body")
    assert page.blocked == []
