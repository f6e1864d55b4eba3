"""What each management endpoint declares next to its handler: ``@operation(...)``.

The declaration is what the OpenAPI document (``mgmt/schema.py``) is generated from: the
summary, the ``{id}`` path parameter, the query parameters and request body (the same
``Param``s and request body model the handler parses the request with), the response model
(``objectstore.api_models``) and the error statuses beyond the ones every endpoint may answer
(400, 401 and 413)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel

from .params import REGION, Body, Paging, Param, PathId

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Operation:
    operation_id: str
    summary: str
    response: type[BaseModel]
    response_description: str
    description: str = ""
    path: PathId | None = None
    query: tuple[Param | Paging, ...] = (REGION,)
    body: Body | None = None
    errors: tuple[int, ...] = ()
    links: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    authenticated: bool = True  # False: no API key, no Civo error envelope (/healthz)
    media_type: str = "application/json"


def operation(operation_id: str, summary: str, response: type[BaseModel],
              response_description: str, **kw: Any) -> Callable[[F], F]:
    """Declare a handler's operation (see ``Operation``)."""
    op = Operation(operation_id, summary, response, response_description, **kw)

    def attach(fn: F) -> F:
        fn.__dict__["operation"] = op
        return fn
    return attach


def operation_of(fn: Callable[..., Any]) -> Operation:
    op = fn.__dict__.get("operation")
    if not isinstance(op, Operation):
        raise TypeError(f"{fn.__qualname__} has no @operation declaration")
    return op
