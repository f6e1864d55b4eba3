"""CORS rules of a store (what PutBucketCors set) and how a browser request matches them."""

from __future__ import annotations

from dataclasses import dataclass

from .policy import glob

METHODS = ("GET", "PUT", "POST", "DELETE", "HEAD")
MAX_RULES = 100  # S3's limit


@dataclass(frozen=True)
class CorsRule:
    origins: tuple[str, ...]
    methods: tuple[str, ...]
    headers: tuple[str, ...] = ()
    expose: tuple[str, ...] = ()
    max_age: int | None = None
    id: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"origins": list(self.origins), "methods": list(self.methods),
                "headers": list(self.headers), "expose": list(self.expose),
                "max_age": self.max_age, "id": self.id}

    @staticmethod
    def from_json(d: dict[str, object]) -> CorsRule:
        def strings(name: str) -> tuple[str, ...]:
            value = d.get(name) or []
            return tuple(str(v) for v in value) if isinstance(value, list) else ()

        age = d.get("max_age")
        return CorsRule(strings("origins"), strings("methods"), strings("headers"),
                        strings("expose"), age if isinstance(age, int) else None,
                        str(d["id"]) if d.get("id") is not None else None)

    def origin_matches(self, origin: str) -> bool:
        return any(o == "*" or glob(o, ignore_case=True).fullmatch(origin) is not None
                   for o in self.origins)

    def headers_allowed(self, requested: list[str]) -> bool:
        patterns = [glob(h.lower(), ignore_case=True) for h in self.headers]
        return all(any(p.fullmatch(h) for p in patterns) for h in requested)

    @property
    def any_origin(self) -> bool:
        return "*" in self.origins


def rules_from_json(doc: object) -> list[CorsRule]:
    if not isinstance(doc, list):
        return []
    return [CorsRule.from_json(d) for d in doc if isinstance(d, dict)]


def match(rules: list[CorsRule], origin: str, method: str,
          request_headers: list[str] | None = None) -> CorsRule | None:
    """The first rule allowing ``origin`` to use ``method`` (and, for a preflight, every
    header in ``request_headers``), as S3 picks it."""
    for rule in rules:
        if method not in rule.methods or not rule.origin_matches(origin):
            continue
        if request_headers and not rule.headers_allowed(request_headers):
            continue
        return rule
    return None
