"""Declarative routes: each carries its request/response models and minimum role.

The same declaration drives validation at run time and the OpenAPI document, so the two cannot drift.
Handlers receive a `Call` with the authenticated principal and the validated body, and return a pydantic
model (or None for 204). They never touch JSON or status codes for the happy path.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, ValidationError

from vms_common.api import keys, parsing
from vms_common.auth.principal import Authenticator, Principal
from vms_common.auth.roles import Role
from vms_common.errors import Forbidden, InvalidInput, NotFound, PayloadTooLarge, Unauthenticated

B = TypeVar("B", bound=BaseModel)
Q = TypeVar("Q", bound=BaseModel)


class NoBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in item["loc"]), "message": item["msg"], "type": item["type"]}
        for item in exc.errors()
    ]


@dataclass
class Call(Generic[B]):
    request: web.Request
    principal: Principal | None
    body: B

    @property
    def user(self) -> Principal:
        """The authenticated principal; only public routes see None, and they must not call this."""
        assert self.principal is not None
        return self.principal

    @property
    def app(self) -> web.Application:
        return self.request.app

    def path_uuid(self, name: str) -> uuid.UUID:
        raw = self.request.match_info[name]
        try:
            return uuid.UUID(raw)
        except ValueError:
            raise NotFound(f"no such {name.removesuffix('_id')}: '{raw}' is not a valid id") from None

    def query(self, model: type[Q]) -> Q:
        """The query string validated by `model`. Raises InvalidInput (422) for anything the documented
        schema does not allow, including a repeated parameter and a date-time given as a bare number."""
        repeated = sorted({name for name in self.request.query if len(self.request.query.getall(name)) > 1})
        if repeated:
            raise InvalidInput(f"query parameter(s) given more than once: {', '.join(repeated)}")
        raw = dict(self.request.query)
        try:
            result = model.model_validate(raw)
        except ValidationError as exc:
            raise InvalidInput("invalid query parameters", details=validation_details(exc)) from None
        parsing.check_values(result)
        parsing.check_query_datetimes(result, raw)
        return result


Handler = Callable[[Call[B]], Awaitable[BaseModel | web.StreamResponse | None]]


@dataclass
class RouteSpec:
    method: str
    path: str
    handler: Callable[[Call[Any]], Awaitable[BaseModel | web.StreamResponse | None]]
    body: type[BaseModel] | None
    response: type[BaseModel] | None
    query: type[BaseModel] | None
    status: int
    role: Role | None
    summary: str
    tags: list[str] = field(default_factory=list)
    errors: tuple[int, ...] = ()
    media_type: str | None = None
    query_token: bool = False
    authenticator: Authenticator | None = None
    every_site: bool = False


class ApiRouter:
    """Collects RouteSpecs; `install` binds them to an aiohttp app under a prefix.

    `authenticator` is how this router's routes find their caller; without one they use the app's
    (`keys.AUTHENTICATOR`), so a service can set it once for all its routers.
    """

    def __init__(self, prefix: str = "/api/v1", authenticator: Authenticator | None = None) -> None:
        self.prefix = prefix
        self.authenticator = authenticator
        self.specs: list[RouteSpec] = []

    def route(
        self,
        method: str,
        path: str,
        *,
        role: Role | None,
        response: type[BaseModel] | None = None,
        body: type[B] | None = None,
        query: type[BaseModel] | None = None,
        status: int = 200,
        summary: str = "",
        tags: list[str] | None = None,
        errors: tuple[int, ...] = (),
        media_type: str | None = None,
        query_token: bool = False,
        every_site: bool = False,
    ) -> Callable[[Handler[B]], Handler[B]]:
        """Declare a route. `role=None` makes it public (login, health); everything else needs a token.

        `media_type` declares a binary response (image/jpeg, video/mp4): the handler returns the aiohttp
        response itself. `query_token` also accepts `?access_token=` for clients that cannot set headers
        (video elements, media players); keep it to read-only media routes, since URLs end up in logs.
        `every_site` keeps a route that changes the whole system (its licence, retention, cloud link, channels)
        to callers of every site: a site-restricted Admin manages their sites, not the others'.
        """

        def register(handler: Handler[B]) -> Handler[B]:
            self.specs.append(
                RouteSpec(
                    method=method.upper(),
                    path=path,
                    handler=handler,
                    body=body,
                    response=response,
                    query=query,
                    status=status,
                    role=role,
                    summary=summary or (handler.__doc__ or "").strip().split("\n")[0],
                    tags=tags or [],
                    errors=errors,
                    media_type=media_type,
                    query_token=query_token,
                    authenticator=self.authenticator,
                    every_site=every_site,
                )
            )
            return handler

        return register

    def include(self, other: ApiRouter) -> None:
        """Adopt another router's routes with their full paths (a root router has the empty prefix)."""
        self.specs.extend(replace(spec, path=other.prefix + spec.path) for spec in other.specs)

    def install(self, app: web.Application) -> None:
        """Bind the routes to `app` and record this router as its route table (the OpenAPI document's source)."""
        app[keys.ROUTER] = self
        for spec in self.specs:
            app.router.add_route(spec.method, self.prefix + uuid_path(spec.path), _adapt(spec))


UUID_PATTERN = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def uuid_path(path: str) -> str:
    """`path` with every `{..._id}` parameter bound to the UUID pattern the OpenAPI document declares.

    Without it `/cameras/{camera_id}` also matched `/cameras/rtsp-probe`, so a PATCH there reached the camera
    handler and its body check (422) instead of answering 405 with the `Allow` header of the POST-only route.
    A malformed id now fails routing: 404, as the document says.
    """
    return re.sub(r"{(\w+_id)}", lambda m: "{" + m.group(1) + ":" + UUID_PATTERN + "}", path)


async def _read_up_to(request: web.Request, size: int) -> bytes:
    """The body, stopping after `size` bytes. StreamReader.read(n) returns what has arrived so far, which
    for a large body is only its first part, so read until the end."""
    raw = bytearray()
    while len(raw) < size:
        chunk = await request.content.read(size - len(raw))
        if not chunk:
            break
        raw += chunk
    return bytes(raw)


async def read_json_body(request: web.Request, model: type[B]) -> B:
    """Parse and validate a JSON body. Every malformed input becomes a 4xx with a message."""
    limit = request.app.get(keys.MAX_BODY_BYTES, request.client_max_size)
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"request body larger than {limit} bytes")
    raw = await _read_up_to(request, limit + 1)
    if len(raw) > limit:
        raise PayloadTooLarge(f"request body larger than {limit} bytes")
    if not raw:
        raise InvalidInput("request body is empty; expected a JSON object")
    data = parsing.loads(raw)
    try:
        # Strict, in JSON mode: `false` or "3" is not an integer and 1 is not a boolean, as the document says;
        # date-times, UUIDs and enums still come as strings. JSON Schema counts 3.0 as an integer, so
        # integral floats are made integers first (strict float fields accept integers).
        body = model.model_validate_json(json.dumps(parsing.integral_floats(data)), strict=True)
    except ValidationError as exc:
        raise InvalidInput("request body failed validation", details=validation_details(exc)) from None
    parsing.check_values(body)
    return body


def _authenticator(spec: RouteSpec, app: web.Application) -> Authenticator:
    authenticator = spec.authenticator or app.get(keys.AUTHENTICATOR)
    if authenticator is None:
        # A wiring mistake, not the caller's: refuse rather than let a protected route through.
        raise RuntimeError(f"{spec.method} {spec.path} needs a role but the app sets no AUTHENTICATOR")
    return authenticator


def _adapt(spec: RouteSpec) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        principal: Principal | None = None
        if spec.role is not None:
            token = request.query.get("access_token") if spec.query_token else None
            if token and "Authorization" not in request.headers:
                request = request.clone(headers={**request.headers, "Authorization": f"Bearer {token}"})
            principal = await _authenticator(spec, request.app)(request)
            if principal is None:
                raise Unauthenticated("missing or invalid access token")
            if not principal.role.at_least(spec.role):
                raise Forbidden(f"this action needs the {spec.role.value} role")
            if spec.every_site and principal.site_ids is not None:
                raise Forbidden(f"this action changes every site: it needs a {spec.role.value} of every site",
                                code="site_restricted")
        body: BaseModel = NoBody()
        if spec.body is not None:
            body = await read_json_body(request, spec.body)
        result = await spec.handler(Call(request=request, principal=principal, body=body))
        if isinstance(result, web.StreamResponse):
            return result
        if result is None:
            return web.Response(status=204 if spec.status == 200 else spec.status)
        return web.Response(
            status=spec.status, body=result.model_dump_json(by_alias=True), content_type="application/json"
        )

    handle.__name__ = spec.handler.__name__
    return handle
