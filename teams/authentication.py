"""API tokens: `Authorization: Token <key>`, stored as SHA-256 hashes, revocable, rate-limited per token."""

import logging
import time

from django.core.cache.backends.locmem import LocMemCache
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, throttling
from rest_framework.settings import api_settings

from teams import selectors, services
from teams.models import ApiToken

logger = logging.getLogger(__name__)


class IntegrationPrincipal:
    """The request.user of a team integration token (alerts only): authenticated, no staff rights."""

    is_authenticated = True
    is_active = True
    is_anonymous = False
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, token: ApiToken):
        self.token = token
        self.team_id = token.team_id
        self.username = f"integration:{token.team_id}:{token.prefix}"

    def __str__(self) -> str:
        return self.token.name or self.username


class HashedTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Token"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Give the header as 'Authorization: Token <key>'.")
        try:
            key = header[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("The token is not valid.") from exc
        token = selectors.api_token_by_key(key=key)
        if token is None:
            raise exceptions.AuthenticationFailed("The token is not valid or was revoked.")
        services.api_token_used(token=token, at=timezone.now())
        if token.scope == ApiToken.Scope.ALERTS:
            return IntegrationPrincipal(token), token
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("This user is inactive.")
        return token.user, token

    def authenticate_header(self, request):
        return self.keyword


# Where the throttle counts while the shared cache (Redis) is unreachable: this process's memory. The limit
# then holds per web worker instead of across them, which is looser but still a limit, and the API keeps
# answering (a monitor's alert must not be refused because the rate counter is down).
_FALLBACK_CACHE = LocMemCache("throttle-fallback", {"MAX_ENTRIES": 10_000})
_WARN_EVERY_SECONDS = 60.0
_last_warning_at = 0.0


def _warn_cache_down(exc: Exception) -> None:
    global _last_warning_at
    if time.monotonic() - _last_warning_at >= _WARN_EVERY_SECONDS:
        _last_warning_at = time.monotonic()
        logger.warning("The cache is unreachable (%s): API rate limits are counted per process for now", exc)


class TokenRateThrottle(throttling.SimpleRateThrottle):
    """A per-token (else per-user, else per-address) request rate, from API_RATE_LIMIT.

    Fails open to a per-process count when the cache is down (logged at most once a minute).
    """

    scope = "token"

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # redis-py's errors: the shared cache is down or too slow
            _warn_cache_down(exc)
            self.cache = _FALLBACK_CACHE
            return super().allow_request(request, view)

    def get_rate(self):
        # Read at request time (not at import) so a changed API_RATE_LIMIT setting takes effect.
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}


class HashedTokenScheme(OpenApiAuthenticationExtension):
    """Describes `Authorization: Token <key>` in the OpenAPI schema (and the Swagger UI's Authorize box)."""

    target_class = HashedTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "Enter `Token <key>`; `python manage.py create_api_token <username>` makes a key.",
        }
