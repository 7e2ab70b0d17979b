"""CORS for browser clients on other origins: django-cors-headers, with one change.

The library answers every preflight on a CORS-enabled path with an empty 200, whatever its
origin, and adds the `Access-Control-*` headers only for allowed origins. Contract section 4
wants the allowed origins' preflight to be the one `OPTIONS` that is not a 405: here a preflight
from any other origin is not answered by the middleware, so it reaches the view and gets the
API's JSON 405 (still without CORS headers). Everything else is the library's.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from corsheaders.middleware import CorsMiddleware
from django.http import HttpRequest
from django.http.response import HttpResponseBase


class AllowedOriginsCorsMiddleware(CorsMiddleware):
    def check_preflight(self, request: HttpRequest) -> HttpResponseBase | None:
        response = super().check_preflight(request)
        if response is None:
            return None
        origin = request.headers.get("origin", "")
        try:
            allowed = bool(origin) and self.origin_found_in_white_lists(origin, urlsplit(origin))
        except ValueError:  # not a URL
            allowed = False
        return response if allowed else None
