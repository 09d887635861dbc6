"""The OpenAPI document, told truthfully for every HTTP door (``/schema/openapi.json``; docs/reliability.md).

A door states what only it knows in a ``RouteDoc``, attached to its route with
``documented``: its request body type, its answers (status, media type, body
schema, headers), the statuses its own code sends and the error shape it sends
them in. ``describe_routes`` then adds, to every route, what the shared layers
send in front of it, in the route's own error shape:

- 400 for a refused path (``paths``), on every route with a body or parameters;
- 401 with ``WWW-Authenticate``, 403 and 503 with ``Retry-After`` (too many keys
  being verified) from the guard, when API keys are configured, on every route
  the route table does not mark public; 403 on an admin route for a non-admin key;
- 429 with ``Retry-After`` and the ``RateLimit-*`` fields, when rate limits are on;
- 403 from CORS, when CORS is configured;
- 408 from the connection caps, on every route; 413 on every route with a body;
- ``X-Request-ID`` on every answer, and the key schemes as the security requirement.

Body schemas are the decoder's own: ``msgspec.json.schema`` of the type the
route decodes with, so what the document allows is what the decoder takes. The
limits the domain checks after decoding (``domain.validation``,
``domain.option_rules``) are stated on the Structs' fields with
``msgspec.Meta(extra_json_schema=...)``, which documents without changing the
decoder. The schema is inlined (no ``$ref``): Litestar replaces the document's
component schemas with those of its own registry, which never sees these types.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, cast

import msgspec
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.spec import (
    Components,
    OpenAPIHeader,
    OpenAPIMediaType,
    OpenAPIResponse,
    Operation,
    Parameter,
    Reference,
    RequestBody,
    Schema,
    SecurityRequirement,
    SecurityScheme,
)

from entrypoints.documented_limits import request_rules_removed
from entrypoints.http.shared.route_table import route_of

JsonSchema = dict[str, Any]
JSON = "application/json"
SSE = "text/event-stream"

_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"})


def json_schema(type_: Any, *, request_rules: bool = True) -> JsonSchema:
    """The JSON Schema msgspec's decoder for ``type_`` follows, with every ``$ref`` inlined.

    ``request_rules``: with the limits a request's fields are checked against
    after decoding (``documented_limits.limits``); without, the decoder's alone.
    """
    schema = msgspec.json.schema(type_)
    definitions = schema.pop("$defs", {})
    inlined = _inline(schema, definitions, ())
    return cast(JsonSchema, request_rules_removed(inlined, keep=request_rules))


def _inline(node: Any, definitions: Mapping[str, Any], seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(item, definitions, seen) for item in node]
    if not isinstance(node, dict):
        return node
    out: JsonSchema = {}
    ref = node.get("$ref")
    if isinstance(ref, str):
        name = ref.rsplit("/", 1)[-1]
        if name in seen:
            raise ValueError(f"{name} is recursive: it cannot be inlined into the OpenAPI document")
        out.update(_inline(definitions[name], definitions, (*seen, name)))
    for key, value in node.items():
        if key in ("$ref", "discriminator"):  # a discriminator's mapping names the refs inlined here
            continue
        if key in _MAPS and isinstance(value, dict):
            out[key] = {name: _inline(sub, definitions, seen) for name, sub in value.items()}
        else:
            out[key] = _inline(value, definitions, seen)
    return out


@dataclass(frozen=True, slots=True)
class Header:
    """A response header: its name, its value's schema, whether every answer of that status has it."""

    name: str
    schema: JsonSchema
    description: str
    required: bool = True


REQUEST_ID = Header("X-Request-ID", {"type": "string", "minLength": 1}, "The request's id, as logs and spans have it")
RETRY_AFTER = Header("Retry-After", {"type": "integer", "minimum": 1}, "Seconds to wait before trying again")
CHALLENGE = Header("WWW-Authenticate", {"type": "string"}, "The Bearer challenge")
RATE_LIMIT = tuple(
    Header(f"RateLimit-{part}", {"type": "integer", "minimum": 0}, description, required=False)
    for part, description in (
        ("Limit", "The bucket's size"),
        ("Remaining", "Tokens left in the bucket"),
        ("Reset", "Seconds until the bucket is full again"),
    )
)


@dataclass(frozen=True, slots=True)
class Answer:
    """One answer a route sends: ``schema`` describes its body (``None``: any body of ``media_type``)."""

    status: int
    description: str
    schema: JsonSchema | None = None
    media_type: str = JSON
    headers: tuple[Header, ...] = ()
    # OpenAPI links, for stateful fuzzing and clients: name -> {"operationId", "parameters": {"path.x": "$response…"}}
    links: Mapping[str, JsonSchema] = field(default_factory=dict)


def sse_answer(description: str, data: JsonSchema | None = None, *, status: int = 200) -> Answer:
    """A ``text/event-stream`` answer: ``data`` is the schema of the JSON each event's ``data`` field carries.

    Before OpenAPI 3.2's ``itemSchema``, a stream's ``schema`` describes one event,
    as ``{data, event, id, retry}`` (what schemathesis checks each event against).
    """
    data_field: JsonSchema = {"type": "string"}
    if data is not None:
        data_field = {**data_field, "contentMediaType": JSON, "contentSchema": data}
    event = {
        "type": "object",
        "required": ["data"],
        "properties": {"data": data_field, "event": {"type": "string"}, "id": {"type": "string"}},
    }
    return Answer(status, description, event, SSE)


@dataclass(frozen=True, slots=True)
class ErrorShape:
    """How a door writes an error: the body's schema and media type (each door has its own)."""

    schema: JsonSchema
    media_type: str = JSON

    @classmethod
    def of(cls, body_type: Any, media_type: str = JSON) -> ErrorShape:
        return cls(json_schema(body_type), media_type)


class GatewayErrorBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The native door's error (docs/api.md#errors), as ``entrypoints.http.shared.errors`` writes it."""

    error: str
    code: str
    requestId: str


GATEWAY_ERROR = ErrorShape.of(GatewayErrorBody)

# What each error status means on this gateway, and the headers every answer of it carries.
ERROR_STATUSES: dict[int, tuple[str, tuple[Header, ...]]] = {
    400: ("The request is refused: a malformed body, a value out of range, a rule the request breaks", ()),
    401: ("No API key, or an unknown one", (CHALLENGE,)),
    403: ("The key may not do this (an admin route), or the CORS origin is not allowed", ()),
    404: ("No such resource", ()),
    408: ("The request's head or body did not arrive in time; the connection is closed", ()),
    413: ("The request body is larger than MAX_REQUEST_BYTES", ()),
    429: ("Too many requests, from this client or at the upstream", (RETRY_AFTER,)),
    502: ("The upstream provider failed", ()),
    503: ("Overloaded, shutting down, or a dependency is down; try again later", (RETRY_AFTER,)),
    504: ("The upstream provider did not answer in time", ()),
    529: (
        "Overloaded (Anthropic's status): the gateway is full, the upstream's circuit is open, or it is "
        "shutting down; try again later",
        (RETRY_AFTER,),
    ),
}


@dataclass(frozen=True, slots=True)
class RouteDoc:
    """What a door documents of one route; ``describe_routes`` adds what the shared layers send."""

    body: Any = None  # the type the route decodes its JSON body with
    body_rules: bool = True  # False: a request's rules are not a refusal of the body (a batch answers them in place)
    answers: tuple[Answer, ...] = ()  # beside its errors; empty: Litestar's from the return annotation
    errors: frozenset[int] = frozenset()  # statuses the route's own code sends, in ``error_shape``
    error_shape: ErrorShape | None = None  # None: the shape of the route's dialect (``DocPolicy.error_shapes``)
    parameters: Mapping[str, JsonSchema] = field(default_factory=dict)  # schema of a path or query parameter
    headers: tuple[tuple[str, JsonSchema, bool, str], ...] = ()  # request headers: name, schema, required, why


@dataclass(frozen=True, slots=True)
class DocPolicy:
    """What the configuration adds to every route: the guard, the rate limits, CORS."""

    keys_required: bool = False
    limits_enabled: bool = False
    cors: bool = False
    # The error shape of each dialect but the native one, by the route table's dialect (as ``ERROR_STYLES``).
    error_shapes: Mapping[str, ErrorShape] = field(default_factory=dict)


SECURITY_SCHEMES: dict[str, SecurityScheme] = {
    "bearer": SecurityScheme(type="http", scheme="bearer", description="Authorization: Bearer <API key>"),
    "apiKey": SecurityScheme(type="apiKey", name="X-API-Key", security_scheme_in="header", description="The API key"),
}
_SECURITY: list[SecurityRequirement] = [{"bearer": []}, {"apiKey": []}]


def security_components(policy: DocPolicy) -> Components:
    return Components(security_schemes=dict(SECURITY_SCHEMES) if policy.keys_required else None)


class _Documented(Operation):
    route_doc: ClassVar[RouteDoc] = RouteDoc()


def documented(body: Any = None, **doc: Any) -> type[Operation]:
    """The ``operation_class`` of a route: ``documented(BodyType, answers=..., errors=...)`` (``RouteDoc``'s fields)."""
    return type("Documented", (_Documented,), {"route_doc": RouteDoc(body=body, **doc)})


def describe_routes(handlers: Iterable[Any], policy: DocPolicy) -> None:
    """Give every HTTP route its whole document: the door's ``RouteDoc`` and what the layers in front of it send."""
    for handler in handlers:
        if not isinstance(handler, HTTPRouteHandler) or not handler.resolve_include_in_schema():
            continue
        doc = getattr(handler.operation_class, "route_doc", RouteDoc())
        (path,) = tuple(handler.paths)[:1] or ("/",)
        handler.operation_class = _operation_class(_complete(doc, path, handler, policy), policy)


def _complete(doc: RouteDoc, path: str, handler: HTTPRouteHandler, policy: DocPolicy) -> RouteDoc:
    route = route_of(path)
    methods = handler.http_methods
    errors = {408, *doc.errors}
    if doc.body is not None:
        errors |= {400, 413}
    if "{" in path or doc.parameters:
        errors.add(400)
    if not route.public:
        if policy.keys_required:
            errors |= {401, 503}
            if methods & route.admin_methods:
                errors.add(403)
        if policy.limits_enabled:
            errors.add(429)
    if policy.cors:
        errors.add(403)
    shape = doc.error_shape or policy.error_shapes.get(route.dialect, GATEWAY_ERROR)
    return replace(doc, errors=frozenset(errors), error_shape=shape)


def _operation_class(doc: RouteDoc, policy: DocPolicy) -> type[Operation]:
    def __post_init__(self: Operation) -> None:
        _fill(self, doc, policy)

    # A dataclass again, so that its ``__init__`` calls ``__post_init__`` (``Operation``'s has none to call).
    return dataclass(type("DescribedOperation", (Operation,), {"__post_init__": __post_init__, "route_doc": doc}))


def _fill(operation: Operation, doc: RouteDoc, policy: DocPolicy) -> None:
    if doc.body is not None:
        operation.request_body = RequestBody(
            required=True,
            content={JSON: OpenAPIMediaType(schema=_schema(json_schema(doc.body, request_rules=doc.body_rules)))},
        )
    parameters = [_parameter(p, doc) for p in operation.parameters or () if isinstance(p, Parameter)]
    parameters += [
        Parameter(name=name, param_in="header", schema=_schema(schema), required=required, description=why)
        for name, schema, required, why in doc.headers
    ]
    operation.parameters = cast(Any, parameters) or None
    responses: dict[str, Any] = {}
    limited = policy.limits_enabled and 429 in doc.errors
    if doc.answers:
        for answer in doc.answers:  # two answers of one status: one response with both media types
            response = _response(answer, limited)
            if isinstance(earlier := responses.get(str(answer.status)), OpenAPIResponse):
                response = replace(earlier, content={**(earlier.content or {}), **(response.content or {})})
            responses[str(answer.status)] = response
    else:  # Litestar's own, from the return annotation: its success answers only (its 400 is not the gateway's)
        for code, litestar_response in (operation.responses or {}).items():
            if isinstance(litestar_response, OpenAPIResponse) and code.startswith("2"):
                responses[code] = _with_headers(
                    litestar_response, _headers((REQUEST_ID, *(RATE_LIMIT if limited else ())))
                )
    for status in sorted(doc.errors):
        if str(status) in responses:
            continue
        description, headers = ERROR_STATUSES[status]
        if status == 429:
            headers = (*headers, *RATE_LIMIT)
        shape = doc.error_shape or GATEWAY_ERROR
        error = Answer(status, description, shape.schema, shape.media_type, headers)
        responses[str(status)] = _response(error, limited=False)
    operation.responses = responses
    if policy.keys_required and (401 in doc.errors):
        operation.security = list(_SECURITY)


def _parameter(parameter: Parameter, doc: RouteDoc) -> Parameter:
    schema = doc.parameters.get(parameter.name)
    return parameter if schema is None else replace(parameter, schema=_schema(schema))


def _response(answer: Answer, limited: bool) -> OpenAPIResponse:
    headers = (REQUEST_ID, *answer.headers, *(RATE_LIMIT if limited and answer.status < 400 else ()))
    content = {answer.media_type: OpenAPIMediaType(schema=_schema(answer.schema or {}))}
    links = cast(Any, dict(answer.links)) or None  # Litestar's serialiser writes the plain dicts as they are
    return OpenAPIResponse(description=answer.description, content=content, headers=_headers(headers), links=links)


def _with_headers(response: OpenAPIResponse, headers: dict[str, OpenAPIHeader | Reference]) -> OpenAPIResponse:
    return replace(response, headers={**(response.headers or {}), **headers})


def _headers(headers: Iterable[Header]) -> dict[str, OpenAPIHeader | Reference]:
    return {
        h.name: OpenAPIHeader(schema=_schema(h.schema), required=h.required, description=h.description) for h in headers
    }


def _schema(raw: JsonSchema) -> Schema:
    """A raw JSON Schema where Litestar's spec wants a ``Schema``: its serialiser writes a ``dict`` as it is."""
    return cast(Schema, raw)
