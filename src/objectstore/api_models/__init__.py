"""The management API's wire models: one typed set (pydantic) for every side of it.

- **Request bodies** (``RequestBody`` subclasses: ``CreateObjectStore``, ...): the server
  parses each body with its model (``RequestBody.read``: JSON or form fields, or the query
  string, through a ``ParamSource``), and the OpenAPI document's request schemas are generated
  from the same fields (each field's ``Param`` — ``Text``, ``Integer``, ``Flag``, ``RegionParam`` —
  validates it, as Civo's clients send it, and describes it). The SDK builds its bodies with
  the models' field names.
- **Responses** (``ObjectStore``, ``Credential``, ``Region``, ``Quota``, ...): the server
  renders every answer from them (``mgmt/render.py``), the OpenAPI document's response schemas
  are generated from them, and the SDK (``objectstore.client``) parses every answer into
  them; the CLI prints them.

Nothing here imports the server: the SDK imports this package (import-linter contract
"The wire models are independent of the server").

The package: ``params`` (field kinds), ``requests`` (request bodies), ``responses``."""

from .params import *  # noqa: F403
from .requests import *  # noqa: F403
from .responses import *  # noqa: F403
