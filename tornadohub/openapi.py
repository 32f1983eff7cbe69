"""OpenAPI 3.1 from marshmallow schemas: the field-to-JSON-Schema mapping and the document.

The REST payloads are described once, as marshmallow schemas (:mod:`tornadohub.schemas`);
this module turns them into JSON Schema 2020-12 (the dialect of OpenAPI 3.1) and assembles
``/api/openapi.json`` from route :class:`Operation` descriptions. It knows nothing of
Tornado or of the hub's routes (those are in :mod:`tornadohub.handlers.openapi`).

Mapping rules:

* a schema becomes ``{"type": "object", "properties", "required"}`` in
  ``components.schemas`` under its class name less ``Schema``, referenced with ``$ref``;
  ``Meta.unknown = RAISE`` (marshmallow's default) adds ``additionalProperties: false``;
* ``required=True`` fields are required, ``allow_none=True`` adds ``null``, ``data_key``
  names the property, ``metadata`` gives ``description``, ``title``, ``examples``, ``deprecated``;
* validators: ``OneOf`` -> ``enum``, ``Equal`` -> ``const``, ``Range`` -> ``minimum``/
  ``exclusiveMinimum``/..., ``Length`` -> ``minLength``/``minItems``/``minProperties``...,
  ``Regexp`` -> ``pattern``, ``NoneOf`` -> ``not enum``, ``And`` -> all of its parts; other
  validators (plain callables) are not describable and are left out;
* :class:`AnyOf`, the one field this module adds, is ``anyOf`` (JSON has unions; marshmallow
  has none).

A field type without a rule raises ``TypeError``: the document never silently says "anything".
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from marshmallow import RAISE, Schema, fields, missing, validate
from marshmallow import ValidationError as SchemaValidationError

JSON = dict[str, Any]

OPENAPI_VERSION = "3.1.0"
REF_PREFIX = "#/components/schemas/"


class AnyOf(fields.Field[Any]):
    """A value any one of *choices* accepts (the first that does wins): JSON Schema ``anyOf``."""

    def __init__(self, *choices: fields.Field[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.choices = choices

    def _bind_to_schema(self, field_name: str, parent: Schema | fields.Field[Any]) -> None:
        super()._bind_to_schema(field_name, parent)
        for choice in self.choices:
            choice._bind_to_schema(field_name, self)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        return value

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> Any:
        messages: list[Any] = []
        for choice in self.choices:
            try:
                return choice.deserialize(value, attr, data, **kwargs)
            except SchemaValidationError as exc:
                messages.append(exc.messages)
        raise SchemaValidationError(messages)


def component_name(schema: type[Schema]) -> str:
    return schema.__name__.removesuffix("Schema")


def _doc(obj: object) -> str | None:
    """The first paragraph of *obj*'s own docstring, on one line."""
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else None
    if not doc:
        return None
    return markdown(inspect.cleandoc(doc).split("\n\n")[0])


def markdown(docstring: str) -> str:
    """Docstring text as one line of CommonMark (``x`` becomes `x`)."""
    return " ".join(docstring.split()).replace("``", "`")


def _schema_class(nested: Schema) -> type[Schema]:
    if nested.only or nested.exclude:
        raise TypeError("Nested schemas with only/exclude are not supported")
    return type(nested)


class Components:
    """``components.schemas``: each marshmallow schema once, referenced by ``$ref``."""

    def __init__(self) -> None:
        self.schemas: dict[str, JSON] = {}
        self._classes: dict[str, type[Schema]] = {}

    def ref(self, schema: type[Schema]) -> JSON:
        name = component_name(schema)
        known = self._classes.get(name)
        if known is None:
            self._classes[name] = schema
            self.schemas[name] = {}  # reserved first, so a schema may nest itself
            self.schemas[name] = self.object_schema(schema)
        elif known is not schema:
            raise ValueError(f"Two schemas are called {name}: {known} and {schema}")
        return {"$ref": REF_PREFIX + name}

    def object_schema(self, schema: type[Schema]) -> JSON:
        """The JSON Schema of one marshmallow schema (its fields in declaration order)."""
        instance = schema()
        properties: JSON = {}
        required: list[str] = []
        for name, item in instance.fields.items():
            key = item.data_key or name
            properties[key] = self.field(item)
            if item.required:
                required.append(key)
        out: JSON = {"type": "object", "title": component_name(schema)}
        if description := _doc(schema):
            out["description"] = description
        out["properties"] = properties
        if required:
            out["required"] = required
        if instance.unknown == RAISE:
            out["additionalProperties"] = False
        return out

    def field(self, item: fields.Field[Any]) -> JSON:
        """The JSON Schema of one field, validators and metadata included."""
        out = self._type(item)
        for validator in item.validators:
            out.update(_validator(validator, out.get("type")))
        metadata = item.metadata
        for key in ("title", "description", "deprecated", "examples"):
            if key in metadata:
                out[key] = metadata[key]
        if "example" in metadata:
            out["examples"] = [metadata["example"]]
        default = item.load_default
        if default is not missing and not callable(default):
            out["default"] = default
        if item.dump_only:
            out["readOnly"] = True
        if item.load_only:
            out["writeOnly"] = True
        return _nullable(out) if item.allow_none else out

    def _type(self, item: fields.Field[Any]) -> JSON:
        if isinstance(item, AnyOf):
            return {"anyOf": [self.field(choice) for choice in item.choices]}
        if isinstance(item, fields.Nested):
            ref = self.ref(_schema_class(item.schema))
            return {"type": "array", "items": ref} if item.many else ref
        if isinstance(item, fields.List):
            return {"type": "array", "items": self.field(item.inner)}
        if isinstance(item, fields.Tuple):
            items = [self.field(inner) for inner in item.tuple_fields]
            count = len(items)
            return {"type": "array", "prefixItems": items, "minItems": count, "maxItems": count}
        if isinstance(item, fields.Mapping):
            out: JSON = {"type": "object"}
            if item.value_field is not None:
                out["additionalProperties"] = self.field(item.value_field)
            return out
        if isinstance(item, fields.Constant):
            return {"const": item.constant}
        if isinstance(item, fields.Enum):
            if item.by_value is False:
                return {"type": "string", "enum": [member.name for member in item.enum]}
            return {"enum": [member.value for member in item.enum]}
        for kind, schema in _SCALARS:
            if isinstance(item, kind):
                return dict(schema)
        if type(item) in (fields.Raw, fields.Field):
            return {}
        raise TypeError(f"No JSON Schema rule for {type(item).__name__} fields")


#: Scalar fields, most specific first (Url is a String, Integer a Number, ...).
_SCALARS: tuple[tuple[type[fields.Field[Any]], JSON], ...] = (
    (fields.Boolean, {"type": "boolean"}),
    (fields.Integer, {"type": "integer"}),
    (fields.Number, {"type": "number"}),
    (fields.Url, {"type": "string", "format": "uri"}),
    (fields.Email, {"type": "string", "format": "email"}),
    (fields.UUID, {"type": "string", "format": "uuid"}),
    (fields.IPv4, {"type": "string", "format": "ipv4"}),
    (fields.IPv6, {"type": "string", "format": "ipv6"}),
    (fields.IP, {"type": "string"}),
    (fields.String, {"type": "string"}),
    (fields.DateTime, {"type": "string", "format": "date-time"}),
    (fields.Date, {"type": "string", "format": "date"}),
    (fields.Time, {"type": "string", "format": "time"}),
    (fields.TimeDelta, {"type": "number"}),
)


def _validator(validator: Any, kind: Any) -> JSON:
    if isinstance(validator, validate.And):
        out: JSON = {}
        for part in validator.validators:
            out.update(_validator(part, kind))
        return out
    if isinstance(validator, validate.OneOf):
        return {"enum": list(validator.choices)}
    if isinstance(validator, validate.NoneOf):
        return {"not": {"enum": list(validator.iterable)}}
    if isinstance(validator, validate.Equal):
        return {"const": validator.comparable}
    if isinstance(validator, validate.Regexp):
        return {"pattern": validator.regex.pattern}
    if isinstance(validator, validate.Range):
        out = {}
        if validator.min is not None:
            out["minimum" if validator.min_inclusive else "exclusiveMinimum"] = validator.min
        if validator.max is not None:
            out["maximum" if validator.max_inclusive else "exclusiveMaximum"] = validator.max
        return out
    if isinstance(validator, validate.Length):
        noun = {"string": "Length", "array": "Items", "object": "Properties"}.get(kind)
        if noun is None:
            return {}
        low, high = (
            (validator.equal, validator.equal)
            if validator.equal is not None
            else (validator.min, validator.max)
        )
        out = {}
        if low is not None:
            out[f"min{noun}"] = low
        if high is not None:
            out[f"max{noun}"] = high
        return out
    return {}


def _nullable(schema: JSON) -> JSON:
    kind = schema.get("type")
    if isinstance(kind, str) and not {"enum", "const"} & schema.keys():
        return {**schema, "type": [kind, "null"]}
    if "enum" in schema and "type" not in schema:
        return {**schema, "enum": [*schema["enum"], None]}
    described: JSON = {k: schema[k] for k in ("description", "title") if k in schema}
    inner = {k: v for k, v in schema.items() if k not in described}
    return {"anyOf": [inner, {"type": "null"}], **described}


# --------------------------------------------------------------------------- document
@dataclass(frozen=True)
class Response:
    """One status of an operation: media types and the schema of each (None: no schema)."""

    description: str
    content: Mapping[str, type[Schema] | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    """One method of one route."""

    responses: Mapping[int | str, Response]
    body: type[Schema] | None = None
    body_required: bool = True
    query: type[Schema] | None = None
    headers: type[Schema] | None = None
    #: No API key needed, even when the hub has keys.
    public: bool = False
    summary: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class PathParameter:
    name: str
    description: str


class OpenAPI:
    """Collects operations and components; :meth:`document` is the finished document."""

    def __init__(self, *, title: str, version: str, description: str) -> None:
        self.info: JSON = {"title": title, "version": version, "description": description}
        self.components = Components()
        self.paths: dict[str, JSON] = {}
        self.tags: dict[str, None] = {}
        self.security_schemes: JSON = {}
        self.security: list[JSON] = []

    def require_any_of(self, schemes: Mapping[str, JSON]) -> None:
        """Every non-public operation accepts any one of *schemes* (or none, when the hub
        runs without keys)."""
        self.security_schemes.update(schemes)
        self.security = [{name: []} for name in schemes] + [{}]

    def add(
        self,
        path: str,
        method: str,
        operation: Operation,
        *,
        operation_id: str,
        tag: str,
        path_parameters: Sequence[PathParameter] = (),
    ) -> None:
        item = self.paths.setdefault(path, {})
        if method in item:
            raise ValueError(f"{method.upper()} {path} is described twice")
        out: JSON = {"operationId": operation_id, "tags": [tag]}
        self.tags.setdefault(tag)
        if operation.summary:
            out["summary"] = operation.summary
        if operation.description:
            out["description"] = operation.description
        parameters = [
            {
                "name": param.name,
                "in": "path",
                "required": True,
                "description": param.description,
                "schema": {"type": "string"},
            }
            for param in path_parameters
        ]
        if operation.query is not None:
            parameters += self.parameters(operation.query, "query")
        if operation.headers is not None:
            parameters += self.parameters(operation.headers, "header")
        if parameters:
            out["parameters"] = parameters
        if operation.body is not None:
            out["requestBody"] = {
                "required": operation.body_required,
                "content": {"application/json": {"schema": self.components.ref(operation.body)}},
            }
        statuses = sorted(operation.responses, key=lambda status: (status == "default", status))
        out["responses"] = {
            str(status): self.response(operation.responses[status]) for status in statuses
        }
        if operation.public:
            out["security"] = []
        item[method] = out

    def parameters(self, schema: type[Schema], location: str) -> list[JSON]:
        """A schema's fields as OpenAPI parameters (e.g. a query string)."""
        out = []
        for name, item in schema().fields.items():
            param: JSON = {
                "name": item.data_key or name,
                "in": location,
                "required": bool(item.required),
                "schema": self.components.field(item),
            }
            if "description" in item.metadata:
                param["description"] = item.metadata["description"]
            out.append(param)
        return out

    def response(self, response: Response) -> JSON:
        out: JSON = {"description": response.description}
        if response.content:
            out["content"] = {
                media: {"schema": self.components.ref(schema) if schema else _text_schema(media)}
                for media, schema in response.content.items()
            }
        return out

    def document(self) -> JSON:
        components: JSON = {"schemas": dict(sorted(self.components.schemas.items()))}
        if self.security_schemes:
            components["securitySchemes"] = self.security_schemes
        out: JSON = {
            "openapi": OPENAPI_VERSION,
            "info": self.info,
            "tags": [{"name": tag} for tag in self.tags],
            "paths": self.paths,
            "components": components,
        }
        if self.security:
            out["security"] = self.security
        return out


def _text_schema(media: str) -> JSON:
    """A body without a marshmallow schema: text; an event stream's events are not described."""
    return {} if media == "text/event-stream" else {"type": "string"}


def json_schema(document: Mapping[str, Any], name: str) -> JSON:
    """A self-contained JSON Schema for the component *name* (for ``jsonschema``)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$ref": REF_PREFIX + name,
        "components": document["components"],
    }
