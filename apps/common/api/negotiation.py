"""Content negotiation for a JSON-only API: every response is JSON, whatever `Accept` says.

DRF's default negotiation answers 406 when `Accept` names no media type a renderer offers
(`Accept: text/html` from a browser or a curl default profile). This API has one renderer, so
there is nothing to choose: a client gets the JSON it can always read, never a 406.
"""

from __future__ import annotations

from typing import Any

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class JsonOnlyNegotiation(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: Any = None
    ) -> tuple[BaseRenderer, str]:
        renderer = renderers[0]
        return renderer, renderer.media_type
