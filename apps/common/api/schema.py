"""OpenAPI post-processing: what drf-spectacular cannot infer from our views."""

from __future__ import annotations

from typing import Any


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
