"""OpenAPI post-processing: document the one error shape of the REST API on every operation.

Every error under /api is rendered by ``common.api.api_exception_handler`` in one JSON shape, so
the schema says so once, as each operation's ``default`` response, instead of every view listing
400/401/403/404/409/429. Clients (and schemathesis) can then validate error bodies too.
"""

from __future__ import annotations

from typing import Any

ERROR_COMPONENT = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every REST API error (Quay's field names).",
    "properties": {
        "status": {"type": "integer", "description": "the HTTP status"},
        "error_type": {"type": "string", "description": "invalid_request, unauthorized, forbidden, not_found, conflict, ..."},
        "title": {"type": "string"},
        "error_message": {"type": "string"},
        "detail": {"description": "more about the error: a message or an object"},
        "errors": {"description": "field errors of an invalid request body or query"},
    },
    "required": ["status", "error_type", "title", "error_message", "detail"],
}
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def add_error_responses(result: dict[str, Any], generator: Any = None, request: Any = None, public: Any = None) -> dict[str, Any]:
    """Add the ``Error`` component and a ``default`` error response to each operation lacking one;
    documented error statuses without a body schema get the ``Error`` body as well."""
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    error = {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}}
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if method not in _METHODS or not isinstance(operation, dict):
                continue
            responses = operation.setdefault("responses", {})
            for code, response in responses.items():
                if str(code)[:1] in ("4", "5") and isinstance(response, dict) and not response.get("content"):
                    response["content"] = error
            responses.setdefault("default", {"description": "An error (see the Error schema).", "content": error})
    return result
