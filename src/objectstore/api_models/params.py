"""Field kinds of the management API's request parameters: how each is parsed (as Civo's
clients send it) and described in the OpenAPI document."""

from __future__ import annotations

import re
from typing import Any, Protocol

from pydantic import (
    GetCoreSchemaHandler,
)
from pydantic_core import core_schema

from ..domain.errors import InvalidInput

# -- field kinds: how a request parameter is parsed and described --------------------------------

INTEGER_RE = re.compile(r"[+-]?[0-9]{1,18}")  # ASCII only: str.isdigit() admits "²" and "١"
# NUL and lone surrogates (JSON "\u0000", "\ud800") cannot be stored by PostgreSQL / encoded
UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")
MAX_INT = 10**9  # a larger integer is refused


def parse_string(name: str, value: Any) -> str:
    """A string parameter: JSON strings and numbers (Civo's clients send numbers as either)."""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise InvalidInput(f"{name} must be a string", name)
    text = str(value)
    if UNSTORABLE_RE.search(text):
        raise InvalidInput(f"{name} contains characters that are not allowed", name)
    return text


def parse_integer(name: str, value: Any, *, allow_zero: bool = True) -> int:
    """An integer parameter: a JSON integer (or integral float) or a string of ASCII digits."""
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be an integer", name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        value = value.strip()
        if not INTEGER_RE.fullmatch(value):
            raise InvalidInput(f"{name} must be an integer", name)
        value = int(value)
    if not isinstance(value, int):
        raise InvalidInput(f"{name} must be an integer", name)
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidInput(f"{name} must be a positive integer", name)
    if value > MAX_INT:
        raise InvalidInput(f"{name} is too large", name)
    return value


def parse_boolean(name: str, value: Any) -> bool:
    """A boolean parameter: JSON true/false, or true/false/1/0/yes/no/on/off as a string."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "on"}:
        return True
    if text in {"false", "0", "no", "off"}:
        return False
    raise InvalidInput(f"{name} must be true or false", name)


class ParamSource(Protocol):
    """Where a request's parameters come from (the server's ``mgmt/params.Params``): a named
    value (the body's, else the query string's; None when missing or empty), and the region
    (the query string's first)."""

    def get(self, name: str) -> Any: ...

    def given(self, name: str) -> Any:
        """The value as sent, an empty string included (None: missing or null)."""
        ...

    @property
    def region(self) -> str | None: ...


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class Param:
    """One named request parameter. As ``Annotated`` metadata of a ``RequestBody`` field it is
    that field's validator (``parse``: the value as Civo's clients send it, or InvalidInput
    naming the parameter); ``read`` takes it from a ``ParamSource`` (for the query
    parameters); ``schema`` is its JSON-body OpenAPI schema and ``form_schema`` the same field
    as a form-encoded string."""

    kind = "string"

    def __init__(self, name: str, description: str = "", *, nullable: bool = False,
                 example: Any = None, **constraints: Any) -> None:
        self.name, self.description, self.nullable = name, description, nullable
        # JSON Schema keywords (min_length -> minLength, ...)
        self.example, self.constraints = example, {
            _camel(k): v for k, v in constraints.items()}

    def parse(self, value: Any) -> Any:
        return value

    def raw(self, source: ParamSource) -> Any:
        """The unparsed value in the request; None: missing."""
        return source.get(self.name)

    def read(self, source: ParamSource) -> Any:
        value = self.raw(source)
        return None if value is None else self.parse(value)

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind, **self.constraints}
        if self.nullable:
            out["nullable"] = True
        if self.example is not None:
            out["example"] = self.example
        if self.description:
            out["description"] = self.description
        return out

    def form_schema(self) -> dict[str, Any]:
        """Form fields are strings: keep the description, pattern and example."""
        return {k: v for k, v in self.schema().items()
                if k in ("description", "pattern", "example")} | {"type": "string"}

    # pydantic: the field's whole validation is ``parse`` (None: the field is missing)
    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler
                                     ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            lambda value: None if value is None else self.parse(value))


class Text(Param):
    def parse(self, value: Any) -> str:
        return parse_string(self.name, value)


class Clearable(Text):
    """A string an update may empty: ``""`` (sent explicitly) removes the value, where
    other parameters take an empty value as missing."""

    def raw(self, source: ParamSource) -> Any:
        return source.given(self.name)


class Integer(Param):
    """An integer (or a string of ASCII digits); ``minimum`` 0 or 1 (0 admits zero)."""

    kind = "integer"

    def __init__(self, name: str, description: str = "", *, minimum: int = 0,
                 maximum: int = MAX_INT, **kw: Any) -> None:
        super().__init__(name, description, minimum=minimum, maximum=maximum, **kw)
        self.allow_zero = minimum <= 0

    def parse(self, value: Any) -> int:
        return parse_integer(self.name, value, allow_zero=self.allow_zero)

    def form_schema(self) -> dict[str, Any]:
        return super().form_schema() | {"pattern": "^[0-9]{1,9}$"}


class Flag(Param):
    """A boolean (or true/false/1/0/yes/no/on/off as a string)."""

    kind = "boolean"

    def parse(self, value: Any) -> bool:
        return parse_boolean(self.name, value)

    def form_schema(self) -> dict[str, Any]:
        return super().form_schema() | {"enum": ["true", "false"]}


class RegionParam(Text):
    """``region``: the query string wins over the body; missing or empty means the default."""

    def raw(self, source: ParamSource) -> Any:
        return source.region

    def parse(self, value: Any) -> str:
        return str(value)  # (a blank one is missing: ParamSource.region)


BODY_REGION = RegionParam("region", "Region code (case-insensitive); the query parameter "
                          "wins; missing or empty means the default region", example="LON1")
