"""OpenAPI 3.0 description of the management API (Civo's v2 Object Store API), as served.

``OPENAPI`` is a plain dict (JSON-serialisable) describing every route in ``mgmt/app.py``:
parameters, request bodies (JSON and form-encoded), response shapes (``mgmt/render.py``) and
the Civo error body (``mgmt/errors.py``). It is what ``GET /openapi.json`` serves and what the
schemathesis run in ``tests/security`` checks the live server against.

Lenient inputs the code accepts are described in prose rather than in the schemas (so that a
schema-driven client generates the canonical form): every body parameter may also be sent in
the query string; integers may be sent as strings of ASCII digits; every path is also served
with a trailing slash; PATCH is an alias of PUT.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict[str, Any]:
    return {"$ref": f"#/components/responses/{description}"}


# -- schemas -------------------------------------------------------------------------------------

_STRING = {"type": "string"}
_INT = {"type": "integer"}
_BOOL = {"type": "boolean"}
_DATETIME = {"type": "string", "format": "date-time"}
_UUID = {"type": "string", "format": "uuid",
         "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "description": "Every error (status >= 400). All fields are strings when present.",
        "required": ["code", "reason"],
        "additionalProperties": False,
        "properties": {
            "code": {"type": "string", "minLength": 1,
                     "example": "database_objectstore_not_found",
                     "description": "Machine-readable code: database_account_not_found, "
                                    "database_region_not_found, "
                                    "database_region_feature_not_supported, "
                                    "database_objectstore_not_found, "
                                    "database_objectstore_exists, "
                                    "database_objectstore_not_empty, "
                                    "database_objectstore_credential_not_found, "
                                    "database_objectstore_credential_exists, "
                                    "database_objectstore_credential_in_use, "
                                    "objectstore_quota_exceeded, objectstore_size_below_usage, "
                                    "conflict, parameter_<name>_invalid, parameter_invalid, "
                                    "invalid_json, invalid_request_body, "
                                    "request_body_too_large, not_found, method_not_allowed, "
                                    "internal_server_error"},
            "reason": {"type": "string", "minLength": 1},
            "details": {"type": "string"},
        },
    },
    "OwnerInfo": {
        "type": "object",
        "required": ["name", "access_key_id", "credential_id"],
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "access_key_id": {"type": "string", "minLength": 1},
            "credential_id": _UUID,
        },
    },
    "ObjectStore": {
        "type": "object",
        "required": ["id", "name", "max_size", "max_size_gb", "owner_info",
                     "objectstore_endpoint", "region", "status", "state", "created_at"],
        "properties": {
            "id": _UUID,
            "name": {"type": "string", "minLength": 3, "maxLength": 63},
            "max_size": {"type": "integer", "minimum": 1,
                         "description": "Size in GB (same as max_size_gb)"},
            "max_size_gb": {"type": "integer", "minimum": 1},
            "owner_info": _ref("OwnerInfo"),
            "objectstore_endpoint": {"type": "string",
                                     "description": "S3 endpoint URL including the bucket"},
            "region": _STRING,
            "status": {"type": "string", "enum": ["ready"]},
            "state": {"type": "string", "enum": ["ready"]},
            "created_at": _DATETIME,
        },
    },
    "Credential": {
        "type": "object",
        "required": ["id", "name", "access_key_id", "secret_access_key_id", "max_size_gb",
                     "suspended", "status", "state", "region", "created_at"],
        "properties": {
            "id": _UUID,
            "name": {"type": "string", "minLength": 1, "maxLength": 255},
            "access_key_id": {"type": "string", "minLength": 1},
            "secret_access_key_id": {"type": "string", "minLength": 1},
            "max_size_gb": {"type": "integer", "minimum": 0,
                            "description": "Usage cap in GB; 0 means no cap"},
            "suspended": _BOOL,
            "status": {"type": "string", "enum": ["ready"]},
            "state": {"type": "string", "enum": ["ready"]},
            "region": _STRING,
            "created_at": _DATETIME,
        },
    },
    "ObjectStorePage": {
        "type": "object",
        "required": ["page", "per_page", "pages", "items"],
        "properties": {"page": {"type": "integer", "minimum": 1},
                       "per_page": {"type": "integer", "minimum": 1, "maximum": 10000},
                       "pages": {"type": "integer", "minimum": 1},
                       "items": {"type": "array", "items": _ref("ObjectStore")}},
    },
    "CredentialPage": {
        "type": "object",
        "required": ["page", "per_page", "pages", "items"],
        "properties": {"page": {"type": "integer", "minimum": 1},
                       "per_page": {"type": "integer", "minimum": 1, "maximum": 10000},
                       "pages": {"type": "integer", "minimum": 1},
                       "items": {"type": "array", "items": _ref("Credential")}},
    },
    "Stats": {
        "type": "object",
        "required": ["size_kb_utilised", "max_size_kb", "num_objects"],
        "properties": {
            "size_kb_utilised": {"type": "integer", "minimum": 0,
                                 "description": "Stored bytes / 1000"},
            "max_size_kb": {"type": "integer", "minimum": 0,
                            "description": "max_size_gb GiB / 1000"},
            "num_objects": {"type": "integer", "minimum": 0},
        },
    },
    "Region": {
        "type": "object",
        "required": ["code", "name", "type", "out_of_capacity", "country", "country_name",
                     "default", "features"],
        "properties": {
            "code": _STRING, "name": _STRING, "type": {"type": "string", "enum": ["civo"]},
            "out_of_capacity": _BOOL, "country": _STRING, "country_name": _STRING,
            "default": {"type": "boolean", "description": "Exactly one region is the default"},
            "features": {
                "type": "object",
                "required": ["object_store"],
                "additionalProperties": {"type": "boolean"},
                "properties": {k: _BOOL for k in (
                    "iaas", "kubernetes", "object_store", "loadbalancer", "dbaas", "volume",
                    "paas", "kfaas", "public_ip_node_pools")},
            },
        },
    },
    "Quota": {
        "type": "object",
        "required": ["id", "default_user_id", "default_user_email_address",
                     "objectstore_gb_limit", "objectstore_gb_usage", "objectstore_count_usage"],
        "properties": {
            "id": _UUID, "default_user_id": _UUID, "default_user_email_address": _STRING,
            "objectstore_gb_limit": {"type": "integer", "minimum": 0},
            "objectstore_gb_usage": {"type": "integer", "minimum": 0,
                                     "description": "GB allocated to the account's stores"},
            "objectstore_count_usage": {"type": "integer", "minimum": 0},
        },
    },
    "Deleted": {
        "type": "object",
        "required": ["result"],
        "properties": {"result": {"type": "string", "enum": ["success"]}},
    },
    "Health": {
        "type": "object",
        "required": ["status"],
        "properties": {"status": {"type": "string", "enum": ["ok"]}},
    },
    # -- request bodies ---------------------------------------------------------------------------
    "CreateObjectStore": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "pattern": "^[a-zA-Z0-9][a-zA-Z0-9.-]{1,61}[a-zA-Z0-9]$",
                     "description": "Bucket name: 3-63 letters, digits, '-' and '.', starting "
                                    "and ending with a letter or digit, no '..', not an IPv4 "
                                    "address; unique within the region"},
            "region": {"type": "string", "example": "LON1",
                       "description": "Region code (case-insensitive); the query parameter "
                                      "wins; missing or empty means the default region"},
            "max_size_gb": {"type": "integer", "minimum": 1, "maximum": 1000000000,
                            "description": "Size in GB (default 500)"},
            "size": {"type": "integer", "minimum": 1, "maximum": 1000000000,
                     "description": "Alias of max_size_gb (Civo's page calls it size)"},
            "access_key_id": {"type": "string", "nullable": True,
                              "description": "Owner: an existing credential of the account in "
                                             "the region; null or missing creates a new "
                                             "credential owned by (and deleted with) the store"},
        },
    },
    "UpdateObjectStore": {
        "type": "object",
        "properties": {
            "region": {"type": "string", "example": "LON1"},
            "max_size_gb": {"type": "integer", "minimum": 0, "maximum": 1000000000,
                            "description": "New size in GB; 0 or missing leaves it unchanged"},
            "size": {"type": "integer", "minimum": 0, "maximum": 1000000000,
                     "description": "Alias of max_size_gb"},
            "access_key_id": {"type": "string", "nullable": True,
                              "description": "Move the store to another credential of the "
                                             "account; null leaves the owner unchanged"},
        },
    },
    "CreateCredential": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 255},
            "region": {"type": "string", "example": "LON1"},
            "access_key_id": {"type": "string", "nullable": True,
                              "pattern": "^[A-Za-z0-9_-]{3,128}$",
                              "description": "null or missing: 20 generated upper-case "
                                             "alphanumerics"},
            "secret_access_key_id": {"type": "string", "nullable": True,
                                     "pattern": "^[\\x21-\\x7e]{8,128}$",
                                     "description": "null or missing: 40 generated "
                                                    "alphanumerics"},
            "max_size_gb": {"type": "integer", "minimum": 0, "maximum": 1000000000,
                            "description": "Usage cap in GB; 0 or missing means no cap"},
        },
    },
    "UpdateCredential": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 255},
            "region": {"type": "string", "example": "LON1"},
            "access_key_id": {"type": "string", "nullable": True,
                              "pattern": "^[A-Za-z0-9_-]{3,128}$",
                              "description": "Rotate the access key; null or the current key "
                                             "leaves it unchanged"},
            "secret_access_key_id": {"type": "string", "nullable": True,
                                     "pattern": "^[\\x21-\\x7e]{8,128}$",
                                     "description": "Rotate the secret; null leaves it"},
            "max_size_gb": {"type": "integer", "minimum": 0, "maximum": 1000000000,
                            "description": "Usage cap in GB; 0 removes the cap"},
            "suspended": {"type": "boolean",
                          "description": "A suspended credential is refused by the S3 API "
                                        "(also accepts true/false/1/0/yes/no/on/off strings)"},
        },
    },
}


def _form(schema_name: str) -> dict[str, Any]:
    """The form-encoded twin of a JSON body schema: the same fields, all sent as strings."""
    src = SCHEMAS[schema_name]
    props = {}
    for name, prop in src["properties"].items():
        p = {k: v for k, v in prop.items() if k in ("description", "pattern", "example")}
        p["type"] = "string"
        if prop.get("type") == "integer":
            p["pattern"] = "^[0-9]{1,9}$"
        if prop.get("type") == "boolean":
            p["enum"] = ["true", "false"]
        props[name] = p
    out: dict[str, Any] = {"type": "object", "properties": props}
    if "required" in src:
        out["required"] = list(src["required"])
    return out


for _name in ("CreateObjectStore", "UpdateObjectStore", "CreateCredential", "UpdateCredential"):
    SCHEMAS[f"{_name}Form"] = _form(_name)


# -- parameters and responses ---------------------------------------------------------------------

PARAMETERS: dict[str, Any] = {
    "region": {
        "name": "region", "in": "query", "required": False,
        "description": "Region code (case-insensitive). Read from the query first, then the "
                       "body; missing or empty means the default region. Unknown: 404 "
                       "database_region_not_found; without object stores: 400 "
                       "database_region_feature_not_supported.",
        "schema": {"type": "string", "example": "LON1"},
    },
    "page": {"name": "page", "in": "query", "required": False,
             "description": "Page number, from 1 (default 1)",
             "schema": {"type": "integer", "minimum": 1, "maximum": 1000000000}},
    "per_page": {"name": "per_page", "in": "query", "required": False,
                 "description": "Items per page, 1-10000 (default 20)",
                 "schema": {"type": "integer", "minimum": 1, "maximum": 10000}},
    "storeId": {"name": "id", "in": "path", "required": True,
                "description": "Object store id (a UUID; anything else is 404)",
                "schema": {"type": "string"}},
    "credentialId": {"name": "id", "in": "path", "required": True,
                     "description": "Credential id (a UUID; anything else is 404)",
                     "schema": {"type": "string"}},
}


def _error_response(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {JSON: {"schema": _ref("Error")}}}


RESPONSES: dict[str, Any] = {
    "BadRequest": _error_response(
        "Invalid parameter (parameter_<name>_invalid), body that is neither JSON nor "
        "form-encoded (invalid_json, invalid_request_body), region without object stores, "
        "size below usage"),
    "Unauthorized": _error_response(
        "Missing or unknown API key (database_account_not_found)"),
    "Forbidden": _error_response("Account allocation quota exceeded "
                                 "(objectstore_quota_exceeded)"),
    "NotFound": _error_response("No such object store, credential or region in this "
                                "account"),
    "Conflict": _error_response("Name or access key already in use, or the credential still "
                                "owns a store"),
    "TooLarge": _error_response("Request body larger than the configured limit (1 MiB by "
                                "default), before or after gunzip"),
}


_KMS_KEY: dict[str, Any] = {"type": "object", "properties": {
    "id": {"type": "string"}, "arn": {"type": "string"}, "alias": {"type": "string"},
    "description": {"type": "string"}, "enabled": {"type": "boolean"},
    "created_at": {"type": "string"}}}
_KMS_KEY_BODY: dict[str, Any] = {"type": "object", "properties": {
    "alias": {"type": "string"}, "description": {"type": "string"},
    "region": {"type": "string"}}}
_KMS_KEY_UPDATE: dict[str, Any] = {"type": "object", "properties": {
    "enabled": {"type": "boolean"}, "region": {"type": "string"}}}
_KEY_ID: dict[str, Any] = {"name": "id", "in": "path", "required": True,
                           "schema": {"type": "string"}}


def _ok(schema: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref(schema)}}}


def _responses(ok: dict[str, Any], *errors: str) -> dict[str, Any]:
    codes = {"400": "BadRequest", "401": "Unauthorized", "403": "Forbidden", "404": "NotFound",
             "409": "Conflict", "413": "TooLarge"}
    out = {"200": ok}
    for code in ("400", "401", *errors, "413"):
        out[code] = _error(codes[code])
    return dict(sorted(out.items()))


def _body(schema: str, required: bool = False) -> dict[str, Any]:
    return {
        "required": required,
        "description": "JSON or form-encoded; any field may instead be sent in the query "
                       "string (the body wins, except region). A Content-Encoding: gzip header "
                       "is honoured only when the body really is gzip.",
        "content": {JSON: {"schema": _ref(schema)}, FORM: {"schema": _ref(f"{schema}Form")}},
    }


_region = {"$ref": "#/components/parameters/region"}
_paging = [{"$ref": "#/components/parameters/page"},
           {"$ref": "#/components/parameters/per_page"}]
_store_id = {"$ref": "#/components/parameters/storeId"}
_cred_id = {"$ref": "#/components/parameters/credentialId"}

_STORE_LINKS = {
    "GetObjectStore": {"operationId": "getObjectStore",
                       "parameters": {"id": "$response.body#/id"}},
    "UpdateObjectStore": {"operationId": "updateObjectStore",
                          "parameters": {"id": "$response.body#/id"}},
    "ObjectStoreStats": {"operationId": "getObjectStoreStats",
                         "parameters": {"id": "$response.body#/id"}},
    "DeleteObjectStore": {"operationId": "deleteObjectStore",
                          "parameters": {"id": "$response.body#/id"}},
    "GetOwnerCredential": {"operationId": "getCredential",
                           "parameters": {"id": "$response.body#/owner_info/credential_id"}},
}
_CRED_LINKS = {
    "GetCredential": {"operationId": "getCredential",
                      "parameters": {"id": "$response.body#/id"}},
    "UpdateCredential": {"operationId": "updateCredential",
                         "parameters": {"id": "$response.body#/id"}},
    "DeleteCredential": {"operationId": "deleteCredential",
                         "parameters": {"id": "$response.body#/id"}},
}


def _with_links(response: dict[str, Any], links: dict[str, Any]) -> dict[str, Any]:
    out = deepcopy(response)
    out["links"] = deepcopy(links)
    return out


def _update_ops(kind: str, summary: str, body: str, ok: dict[str, Any], param: Any,
                errors: tuple[str, ...]) -> dict[str, Any]:
    op = {"summary": summary, "parameters": [param, _region],
          "requestBody": _body(body), "responses": _responses(ok, *errors)}
    put = {**deepcopy(op), "operationId": f"update{kind}",
           "description": "Civo's clients send PUT."}
    patch = {**deepcopy(op), "operationId": f"patch{kind}",
             "description": "Civo's API page says PATCH: same as PUT."}
    return {"put": put, "patch": patch}


PATHS: dict[str, Any] = {
    "/v2/objectstores": {
        "get": {
            "operationId": "listObjectStores", "summary": "List the account's object stores",
            "parameters": [_region, *_paging],
            "responses": _responses(_ok("ObjectStorePage", "One page of object stores"),
                                    "404"),
        },
        "post": {
            "operationId": "createObjectStore", "summary": "Create an object store",
            "parameters": [_region],
            "requestBody": _body("CreateObjectStore", required=True),
            "responses": _responses(
                _with_links(_ok("ObjectStore", "The new store (status ready)"), _STORE_LINKS),
                "403", "404", "409"),
        },
    },
    "/v2/objectstores/{id}": {
        "get": {
            "operationId": "getObjectStore", "summary": "Show an object store",
            "parameters": [_store_id, _region],
            "responses": _responses(_ok("ObjectStore", "The store"), "404"),
        },
        **_update_ops("ObjectStore", "Resize an object store or move it to another credential",
                      "UpdateObjectStore", _ok("ObjectStore", "The updated store"), _store_id,
                      ("403", "404")),
        "delete": {
            "operationId": "deleteObjectStore",
            "summary": "Delete an object store and its objects (and its own credential)",
            "parameters": [_store_id, _region],
            "responses": _responses(_ok("Deleted", "Deleted"), "404"),
        },
    },
    "/v2/objectstores/{id}/stats": {
        "get": {
            "operationId": "getObjectStoreStats", "summary": "Usage of an object store",
            "parameters": [_store_id, _region],
            "responses": _responses(_ok("Stats", "Usage in decimal kilobytes"), "404"),
        },
    },
    "/v2/objectstore/credentials": {
        "get": {
            "operationId": "listCredentials", "summary": "List the account's credentials",
            "parameters": [_region, *_paging],
            "responses": _responses(_ok("CredentialPage", "One page of credentials"), "404"),
        },
        "post": {
            "operationId": "createCredential", "summary": "Create an S3 credential",
            "parameters": [_region],
            "requestBody": _body("CreateCredential", required=True),
            "responses": _responses(
                _with_links(_ok("Credential", "The new credential, with its secret"),
                            _CRED_LINKS), "404", "409"),
        },
    },
    "/v2/objectstore/credentials/{id}": {
        "get": {
            "operationId": "getCredential", "summary": "Show a credential (with its secret)",
            "parameters": [_cred_id, _region],
            "responses": _responses(_ok("Credential", "The credential"), "404"),
        },
        **_update_ops("Credential", "Rename, rotate keys, cap or suspend a credential",
                      "UpdateCredential", _ok("Credential", "The updated credential"), _cred_id,
                      ("404", "409")),
        "delete": {
            "operationId": "deleteCredential",
            "summary": "Delete a credential (refused while it owns a store)",
            "parameters": [_cred_id, _region],
            "responses": _responses(_ok("Deleted", "Deleted"), "404", "409"),
        },
    },
    "/v2/objectstore/keys": {
        "get": {
            "operationId": "listKeys", "summary": "The account's KMS keys (SSE-KMS)",
            "parameters": [_region],
            "responses": _responses({"description": "Keys (never their material)",
                                     "content": {JSON: {"schema": {
                                         "type": "array", "items": _KMS_KEY}}}}, "404"),
        },
        "post": {
            "operationId": "createKey", "summary": "Create a named KMS key",
            "parameters": [_region],
            "requestBody": {"required": False, "content": {
                JSON: {"schema": _KMS_KEY_BODY}, FORM: {"schema": _KMS_KEY_BODY}}},
            "responses": _responses({"description": "The new key",
                                     "content": {JSON: {"schema": _KMS_KEY}}}, "404",
                                    "409"),
        },
    },
    "/v2/objectstore/keys/{id}": {
        "get": {
            "operationId": "getKey", "summary": "A KMS key by id, ARN or alias",
            "parameters": [_KEY_ID, _region],
            "responses": _responses({"description": "The key",
                                     "content": {JSON: {"schema": _KMS_KEY}}}, "404"),
        },
        **{method: {
            "operationId": f"{method}Key", "summary": "Enable or disable a KMS key",
            "parameters": [_KEY_ID, _region],
            "requestBody": {"required": False, "content": {
                JSON: {"schema": _KMS_KEY_UPDATE}, FORM: {"schema": _KMS_KEY_UPDATE}}},
            "responses": _responses({"description": "The key",
                                     "content": {JSON: {"schema": _KMS_KEY}}}, "404"),
        } for method in ("put", "patch")},
    },
    "/v2/regions": {
        "get": {
            "operationId": "listRegions", "summary": "Regions (a bare JSON array)",
            "responses": _responses({"description": "Every configured region",
                                     "content": {JSON: {"schema": {
                                         "type": "array", "minItems": 1,
                                         "items": _ref("Region")}}}}),
        },
    },
    "/v2/quota": {
        "get": {
            "operationId": "getQuota", "summary": "The account's object store allocation",
            "responses": _responses(_ok("Quota", "Allocation and its limit")),
        },
    },
    "/healthz": {
        "get": {
            "operationId": "health", "summary": "Liveness (no authentication)",
            "security": [],
            "responses": {"200": _ok("Health", "The server is up")},
        },
    },
    "/openapi.json": {
        "get": {
            "operationId": "openapi", "summary": "This document (no authentication)",
            "security": [],
            "responses": {"200": {"description": "OpenAPI 3.0 document",
                                  "content": {JSON: {"schema": {"type": "object"}}}}},
        },
    },
    "/metrics": {
        "get": {
            "operationId": "metrics", "summary": "Prometheus metrics (no authentication)",
            "security": [],
            "responses": {"200": {"description": "Prometheus text exposition format",
                                  "content": {"text/plain": {"schema": {"type": "string"}}}}},
        },
    },
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {
        "title": "objectstore management API (Civo v2 Object Store API)",
        "version": "2",
        "description": (
            "Manage object stores (S3 buckets) and their S3 credentials, as Civo's v2 API does. "
            "The S3 data plane is served on its own port and is not described here.\n\n"
            "Authentication: `Authorization: bearer <API key>` (scheme case-insensitive). "
            "Request bodies may be JSON or form-encoded, and any body field may be sent in the "
            "query string instead; integers may be sent as strings of ASCII digits; every path "
            "is also served with a trailing slash; PATCH is an alias of PUT. Every error is "
            "a JSON object {code, reason[, details]} of strings."),
    },
    "servers": [{"url": "/"}],
    "security": [{"bearerAuth": []}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {
            "bearerAuth": {"type": "http", "scheme": "bearer",
                           "description": "The account's API key (sent as bearer or Bearer)"},
        },
        "schemas": SCHEMAS,
        "parameters": PARAMETERS,
        "responses": RESPONSES,
    },
}

__all__ = ["OPENAPI"]
