"""The OpenAPI document and its Swagger UI, and the post-processing of what drf-spectacular
cannot infer from our views."""

from __future__ import annotations

from typing import Any

from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from apps.common.api.views import JsonErrorsMixin


def require_request_bodies(result: dict[str, Any], generator: Any, **kwargs: Any) -> dict[str, Any]:
    """Every request body this API accepts is mandatory (the invalidate endpoint has no
    meaning without one); spectacular leaves `required` off for polymorphic bodies."""
    for path_item in result.get("paths", {}).values():
        for operation in path_item.values():
            if isinstance(operation, dict) and "requestBody" in operation:
                operation["requestBody"]["required"] = True
    return result


def close_invalidation_bodies(
    result: dict[str, Any], generator: Any, **kwargs: Any
) -> dict[str, Any]:
    """The invalidation body takes exactly the documented keys; anything else is a 400."""
    for name, component in result.get("components", {}).get("schemas", {}).items():
        if name.startswith("InvalidateBy"):
            component["additionalProperties"] = False
    return result


class SchemaView(JsonErrorsMixin, SpectacularAPIView):
    """`GET /api/schema/`: the OpenAPI document, public."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []


class SwaggerUiView(JsonErrorsMixin, SpectacularSwaggerView):
    """`GET /api/docs/`: Swagger UI over the schema, public, its files served by the app."""

    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    url_name = "schema"
