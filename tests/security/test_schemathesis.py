"""schemathesis against the live management API, driven by its OpenAPI document.

The document (``objectstore.mgmt.openapi.OPENAPI``) is loaded with
``schemathesis.openapi.from_dict``; every operation gets positive (schema-valid) and negative
(schema-violating) cases, sent with the bearer key to a real SQLite server, and each response
is checked: never a 5xx, a documented status code and content type, and a body that matches the
documented schema (Civo's error body for every error). The document's own validity is checked
too. ``OBJECTSTORE_SCHEMATHESIS_EXAMPLES`` sets the examples per operation and mode.
"""

from __future__ import annotations

import json
import os

import httpx
import pytest
from hypothesis import HealthCheck, Phase, given, settings

from objectstore.mgmt.openapi import OPENAPI
from tests.security.helpers import count
from tests.support.server import RunningServer

try:
    import requests
    import schemathesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.generation import GenerationMode
    from schemathesis.specs.openapi.checks import (
        content_type_conformance,
        response_schema_conformance,
        status_code_conformance,
    )
except ImportError as exc:  # fail loudly, never skip
    raise ImportError("schemathesis is missing: install the test extras "
                      "(pip install -e '.[test]'; schemathesis==4.32.5)") from exc

EXAMPLES = int(os.environ.get("OBJECTSTORE_SCHEMATHESIS_EXAMPLES", "10"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


def test_openapi_document_is_valid() -> None:
    """JSON-serialisable and valid against the OpenAPI 3.0 meta-schema."""
    document = json.loads(json.dumps(OPENAPI))
    assert document == OPENAPI
    schemathesis.openapi.from_dict(document).validate()


def test_openapi_covers_every_route(sqlite_server: RunningServer) -> None:
    """Every route of the management app is documented, with the same methods (the web
    console's HTML pages, /, /docs and /console/..., are not part of the JSON API)."""
    from starlette.routing import Mount, Route

    def console(route: object) -> bool:
        if isinstance(route, Mount):
            return all(console(r) for r in route.routes)
        module = getattr(getattr(route, "endpoint", None), "__module__", "") or ""
        return module.startswith("objectstore.console")

    mgmt = sqlite_server.apps.mgmt
    while not hasattr(mgmt, "routes"):  # unwrap the metrics/observability wrappers
        mgmt = mgmt.app  # type: ignore[attr-defined]
    served: dict[str, set[str]] = {}
    for route in mgmt.routes:
        if console(route):
            continue
        assert isinstance(route, Route), route
        path = route.path.rstrip("/") or "/"
        served.setdefault(path, set()).update(m for m in (route.methods or ()) if m != "HEAD")
    served["/metrics"] = {"GET"}  # served by the metrics wrapper in front of the app
    documented = {path: {m.upper() for m in ops} for path, ops in OPENAPI["paths"].items()}
    # /openapi.json (this document) may be served by a route or a wrapper
    documented.pop("/openapi.json")
    served.pop("/openapi.json", None)
    assert documented == served


def test_openapi_json_when_served(sqlite_server: RunningServer) -> None:
    """GET /openapi.json, once the app serves it, returns exactly OPENAPI (no auth needed)."""
    r = httpx.get(f"{sqlite_server.api_url}/openapi.json")
    if r.status_code == 404:
        return  # not wired up yet: nothing to compare
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json() == json.loads(json.dumps(OPENAPI))


@pytest.mark.timeout(300)
def test_schemathesis_management_api(sqlite_server: RunningServer) -> None:
    srv = sqlite_server
    schema = schemathesis.openapi.from_dict(OPENAPI)
    session = requests.Session()
    headers = {"Authorization": f"bearer {srv.api_key}"}
    failures: list[str] = []
    # Positive cases on {id} paths target real resources (so updates and deletes get past the
    # lookup); negative cases use generated ids.
    with srv.api() as api:
        store = api.post("/v2/objectstores", json={"name": "schemathesis-store",
                                                   "region": "LON1", "max_size_gb": 1}).json()
        cred = api.post("/v2/objectstore/credentials", json={"name": "schemathesis-cred",
                                                             "region": "LON1"}).json()
    operations = [result.ok() for result in schema.get_all_operations()
                  if result.ok().path != "/openapi.json"]  # checked by test_openapi_json_*
    assert len(operations) == 28  # + the KMS keys (5) and the event targets (6)
    operations.sort(key=lambda o: o.method.upper() == "DELETE")  # deletes last
    for op in operations:
        modes = [GenerationMode.POSITIVE]
        raw = OPENAPI["paths"][op.path][op.method.lower()]
        if raw.get("parameters") or raw.get("requestBody"):  # else nothing can be negated
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:
            fixed = None
            if "{id}" in op.path and mode is GenerationMode.POSITIVE:
                fixed = {"id": store["id"] if "objectstores" in op.path else cred["id"]}

            @settings(max_examples=EXAMPLES, deadline=None, database=None,
                      phases=[Phase.explicit, Phase.generate, Phase.shrink],
                      suppress_health_check=list(HealthCheck))
            @given(case=op.as_strategy(generation_mode=mode, path_parameters=fixed))
            def run(case) -> None:  # type: ignore[no-untyped-def]
                count(f"schemathesis:{op.label}:{mode.value}")
                response = case.call(base_url=srv.api_url, session=session, headers=headers,
                                     timeout=30)
                count(f"schemathesis-status:{response.status_code}")
                case.validate_response(response, checks=CHECKS, headers=headers)

            try:
                run()
            except Exception as exc:  # collect every operation's failure, then report
                failures.append(f"{op.label} [{mode.value}]: {str(exc)[:1500]}")
    session.close()
    assert not failures, "schemathesis found:\n\n" + "\n\n".join(failures)
