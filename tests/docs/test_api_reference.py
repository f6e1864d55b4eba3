"""Every endpoint of `/openapi.json` is documented where the README leads (issue 23): each
operation is named (`METHOD /path`, or `GET|POST /path`) in README.md or a docs/*.md page the
README links, and the API reference page `/docs` (which the README names) shows it with its
summary."""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
METHODS = "GET|POST|PUT|PATCH|DELETE|HEAD"
NAMED = re.compile(rf"((?:{METHODS})(?:\|(?:{METHODS}))*)\s+(/[\w./{{}}-]*\w[}}]?)")


def linked_docs() -> dict[str, str]:
    readme = (ROOT / "README.md").read_text()
    pages = {"README.md": readme}
    for target in re.findall(r"\]\((docs/[\w.-]+\.md)(?:#[\w-]+)?\)", readme):
        pages[target] = (ROOT / target).read_text()
    return pages


def named_operations(text: str) -> set[tuple[str, str]]:
    return {(m, path) for methods, path in NAMED.findall(text) for m in methods.split("|")}


def test_the_pattern_reads_single_and_joined_methods() -> None:
    assert named_operations("`GET|PUT /v2/x/{id}`, `POST /v2/y`; GET /healthz (200)") == {
        ("GET", "/v2/x/{id}"), ("PUT", "/v2/x/{id}"), ("POST", "/v2/y"), ("GET", "/healthz")}


def test_every_openapi_operation_is_documented_where_the_readme_links(sqlite_server) -> None:
    doc = httpx.get(f"{sqlite_server.api_url}/openapi.json", timeout=10).json()
    operations = {(method.upper(), path) for path, item in doc["paths"].items()
                  for method in item if method in ("get", "post", "put", "patch", "delete")}
    assert len(operations) >= 20

    pages = linked_docs()
    assert "docs/deploy.md" in pages and "docs/encryption.md" in pages
    named = set().union(*(named_operations(text) for text in pages.values()))
    assert sorted(operations - named) == []

    # the API reference the README names, rendered from the same document
    assert "`/docs`" in pages["README.md"]
    page = httpx.get(f"{sqlite_server.api_url}/docs", timeout=10)
    assert page.status_code == 200
    text = html.unescape(page.text)
    for method, path in sorted(operations):
        summary = doc["paths"][path][method.lower()]["summary"]
        assert summary and f"<code>{method} {path}</code>" in text, (method, path)
        assert summary in text, (method, path, summary)
