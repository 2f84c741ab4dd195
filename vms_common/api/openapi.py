"""OpenAPI 3.1 document generated from the route table, and Swagger UI served from the wheel (no CDN)."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from vms_common import __version__
from vms_common.api import keys
from vms_common.api.parsing import INT_MAX, INT_MIN
from vms_common.api.routing import ApiRouter, RouteSpec

REF = "#/components/schemas/{model}"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"}, "details": {}}}},
}
STATUS_TEXT = {400: "Bad request", 401: "Not authenticated", 403: "Forbidden", 404: "Not found",
               409: "Conflict", 413: "Body too large", 422: "Invalid input", 429: "Too many requests",
               502: "Bad gateway (another system did not answer)"}


def _models(specs: list[RouteSpec]) -> list[type[BaseModel]]:
    seen: dict[str, type[BaseModel]] = {}
    for spec in specs:
        for model in (spec.body, spec.response):
            if model is not None:
                seen[f"{model.__module__}.{model.__qualname__}"] = model
    return list(seen.values())


def _path_schema(name: str) -> dict[str, Any]:
    """`..._id` parameters are UUIDs (routing enforces the pattern), `version` a configuration version number;
    any other (a model, preset or tour name) is a path segment of 1 to 64 characters (ONVIF's ReferenceToken
    length, which preset and tour names follow)."""
    if name.endswith("_id"):
        return {"type": "string", "format": "uuid"}
    if name == "version":
        return {"type": "integer", "minimum": 1, "maximum": 10**18 - 1}
    return {"type": "string", "minLength": 1, "maxLength": 64}


def _bound_numbers(schema: Any) -> None:
    """Give every integer or number without bounds the 64-bit integer range, in place: the server refuses
    larger integers (database columns are 64-bit) and floats that are such integers (1e300), so the document
    says so. (A float with a fraction is always far inside that range.)"""
    if isinstance(schema, dict):
        if schema.get("type") in ("integer", "number"):
            if "minimum" not in schema and "exclusiveMinimum" not in schema:
                schema["minimum"] = INT_MIN
            if "maximum" not in schema and "exclusiveMaximum" not in schema:
                schema["maximum"] = INT_MAX
        for value in schema.values():
            _bound_numbers(value)
    elif isinstance(schema, list):
        for value in schema:
            _bound_numbers(value)


JSON_VALUE_REF = REF.format(model="JsonValue")
# Free-form JSON (an event payload, a channel's settings) as the server accepts it: any nesting of these, with
# numbers inside the 64-bit integer range (parsing refuses larger integers, and floats that are such integers).
JSON_VALUE: dict[str, Any] = {"anyOf": [
    {"type": "null"}, {"type": "boolean"}, {"type": "string"},
    {"type": "number", "minimum": INT_MIN, "maximum": INT_MAX},
    {"type": "array", "items": {"$ref": JSON_VALUE_REF}},
    {"type": "object", "additionalProperties": {"$ref": JSON_VALUE_REF}},
]}
_ANNOTATIONS = {"title", "description", "default", "examples"}


def _bound_free_json(schema: Any) -> None:
    """Point free-form parts of `schema` (pydantic's `{}` for Any, `additionalProperties: true` for
    dict[str, Any]) at JsonValue, in place, so the document states the server's limits on them too."""
    if isinstance(schema, list):
        for value in schema:
            _bound_free_json(value)
        return
    if not isinstance(schema, dict):
        return
    if schema.get("additionalProperties") is True:
        schema["additionalProperties"] = {"$ref": JSON_VALUE_REF}
    if schema.get("items") == {}:
        schema["items"] = {"$ref": JSON_VALUE_REF}
    for prop in (schema.get("properties") or {}).values():
        if isinstance(prop, dict) and set(prop) <= _ANNOTATIONS:
            prop["$ref"] = JSON_VALUE_REF
    for value in schema.values():
        _bound_free_json(value)


def _operation(spec: RouteSpec, refs: dict[tuple[type[BaseModel], str], Any]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": spec.handler.__name__,
        "summary": spec.summary,
        "tags": spec.tags,
        "responses": {},
    }
    if spec.every_site:
        op["description"] = f"Needs a {spec.role.value if spec.role else 'user'} of every site (403 site_restricted " \
                            "for one restricted to some sites): it changes the whole system."
    path_names = re.findall(r"{(\w+)}", spec.path)
    params = [{"name": name, "in": "path", "required": True, "schema": _path_schema(name)} for name in path_names]
    if spec.query is not None:
        schema = spec.query.model_json_schema()
        for name, prop in schema.get("properties", {}).items():
            params.append({"name": name, "in": "query", "required": name in schema.get("required", []),
                           "schema": {k: v for k, v in prop.items() if k != "title"},
                           "description": prop.get("description", "")})
    if params:
        op["parameters"] = params
    if spec.body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": refs[(spec.body, "validation")]}}}
    ok: dict[str, Any] = {"description": "OK"}
    if spec.response is not None:
        ok["content"] = {"application/json": {"schema": refs[(spec.response, "serialization")]}}
    if spec.media_type is not None:
        ok["content"] = {spec.media_type: {"schema": {"type": "string", "format": "binary"}}}
    has_body = spec.response is not None or spec.media_type is not None
    op["responses"][str(spec.status if has_body or spec.status != 200 else 204)] = ok
    errors = set(spec.errors) | ({422, 413} if spec.body is not None else set())
    # Every route with a path parameter can name something that is not there; every query model refuses
    # unknown, repeated or malformed parameters. Documented here once rather than on each route.
    errors |= ({404} if path_names else set()) | ({422} if spec.query is not None else set())
    if spec.role is not None:
        op["security"] = [{"bearer": []}]
        errors |= {401, 403}
    for status in sorted(errors):
        error_ref = {"$ref": REF.format(model="Error")}
        op["responses"][str(status)] = {"description": STATUS_TEXT.get(status, "Error"),
                                        "content": {"application/json": {"schema": error_ref}}}
    if spec.role is not None:
        op["description"] = f"Needs the **{spec.role.value}** role or higher."
        if spec.query_token:
            op["description"] += " Also accepts `?access_token=` (for media players that cannot set headers)."
    return op


def _add_links(paths: dict[str, dict[str, Any]], specs: list[RouteSpec], prefix: str) -> None:
    """OpenAPI links from each create (POST answering 201 with an `id`) to the operations on what it made:
    `POST /cameras` -> `GET/PATCH/DELETE /cameras/{camera_id}` and the sub-resources that need only that id.
    A stateful client (schemathesis) follows them to chain create -> read -> change -> delete."""
    for spec in specs:
        if spec.method != "POST" or spec.status != 201 or spec.response is None:
            continue
        if "id" not in spec.response.model_fields:
            continue
        collection = prefix + spec.path
        links: dict[str, Any] = {}
        for path, operations in paths.items():
            match = re.fullmatch(re.escape(collection) + r"/\{(\w+_id)\}(/[^{}]*)?", path)
            if match is None:
                continue
            for op in operations.values():
                links[op["operationId"]] = {"operationId": op["operationId"],
                                            "parameters": {match.group(1): "$response.body#/id"}}
        if links:
            paths[collection]["post"]["responses"]["201"]["links"] = links


def build_document(router: ApiRouter, info: tuple[str, str]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `router`'s routes; `info` is the API's (title, description)."""
    models = _models(router.specs)
    pairs = [(m, mode) for m in models for mode in ("validation", "serialization")]
    refs, schema = models_json_schema(pairs, ref_template=REF)  # type: ignore[arg-type]
    components = dict(schema.get("$defs", {}))
    components["Error"] = ERROR_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for spec in router.specs:
        paths.setdefault(router.prefix + spec.path, {})[spec.method.lower()] = _operation(spec, refs)  # type: ignore[arg-type]
    _add_links(paths, router.specs, router.prefix)
    _bound_numbers(components)
    _bound_numbers(paths)
    _bound_free_json(components)
    _bound_free_json(paths)
    components["JsonValue"] = JSON_VALUE
    return {
        "openapi": "3.1.0",
        "info": {"title": info[0], "version": __version__, "description": info[1]},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": components,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
    }


DOCS_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/static/swagger-init.js"></script></body></html>
"""
DOCS_INIT = "window.ui = SwaggerUIBundle({url: '/api/v1/openapi.json', dom_id: '#swagger-ui'});\n"


def install(app: web.Application, info: tuple[str, str]) -> None:
    """Serve the document at /api/v1/openapi.json and Swagger UI at /docs from local files (no CDN: control
    rooms are often offline). `info` is the (title, description) of the API being served."""
    from swagger_ui_bundle import swagger_ui_path

    cached: dict[str, Any] = {}

    async def document(request: web.Request) -> web.Response:
        if "doc" not in cached:
            cached["doc"] = build_document(request.app[keys.ROUTER], info)
        return web.json_response(cached["doc"])

    async def docs(_: web.Request) -> web.Response:
        return web.Response(text=DOCS_HTML.replace("{title}", html.escape(info[0])), content_type="text/html")

    async def init_js(_: web.Request) -> web.Response:
        return web.Response(text=DOCS_INIT, content_type="application/javascript")

    app.router.add_get("/api/v1/openapi.json", document)
    app.router.add_get("/docs", docs)
    app.router.add_get("/docs/static/swagger-init.js", init_js)
    app.router.add_static("/docs/static/", Path(swagger_ui_path))
