"""A store's website configuration as a value, and the pure decisions on it (no I/O): which
key a request path means, which routing rule applies, and where a redirect goes. The S3 plane
parses the XML into this (``s3/handlers/website.py``); the website plane serves by it
(``website/``). Behaviour follows AWS's website endpoints.

Routing rules are tried in order, the first that matches wins. A rule without a condition
matches every request; ``KeyPrefixEquals`` is matched against the key the request names
(before the index document is appended); ``HttpErrorCodeReturnedEquals`` only once that
error is the answer (both must hold when both are given).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

MAX_RULES = 50
PROTOCOLS = ("http", "https")


class WebsiteConfigError(ValueError):
    """An invalid configuration: ``code`` is the S3 error code, the message AWS's."""

    def __init__(self, code: str, message: str, argument: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.argument = code, message, argument


@dataclass(frozen=True)
class Condition:
    key_prefix: str | None = None
    error_code: int | None = None


@dataclass(frozen=True)
class Redirect:
    host: str | None = None
    code: int | None = None
    protocol: str | None = None
    replace_prefix: str | None = None
    replace_key: str | None = None


@dataclass(frozen=True)
class RoutingRule:
    redirect: Redirect
    condition: Condition | None = None

    def matches(self, key: str, error_code: int | None) -> bool:
        c = self.condition
        if c is None:
            return True
        if c.key_prefix is not None and not key.startswith(c.key_prefix):
            return False
        if c.error_code is not None:
            return error_code == c.error_code
        return True

    @property
    def on_error(self) -> bool:
        return self.condition is not None and self.condition.error_code is not None


@dataclass(frozen=True)
class RedirectAll:
    host: str
    protocol: str | None = None


@dataclass(frozen=True)
class WebsiteConfig:
    index: str | None = None   # IndexDocument Suffix
    error: str | None = None   # ErrorDocument Key
    redirect_all: RedirectAll | None = None
    rules: tuple[RoutingRule, ...] = ()

    def __post_init__(self) -> None:
        check(self)

    # -- stored form (bucket_configs "website") ------------------------------------------------
    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        if self.index is not None:
            doc["index"] = self.index
        if self.error is not None:
            doc["error"] = self.error
        if self.redirect_all is not None:
            doc["redirect_all"] = {"host": self.redirect_all.host,
                                   "protocol": self.redirect_all.protocol}
        if self.rules:
            doc["rules"] = [{
                "condition": None if r.condition is None else {
                    "prefix": r.condition.key_prefix, "code": r.condition.error_code},
                "redirect": {"host": r.redirect.host, "code": r.redirect.code,
                             "protocol": r.redirect.protocol,
                             "replace_prefix": r.redirect.replace_prefix,
                             "replace_key": r.redirect.replace_key}} for r in self.rules]
        return doc

    @classmethod
    def from_json(cls, doc: Any) -> WebsiteConfig | None:
        if not isinstance(doc, dict):
            return None
        ra = doc.get("redirect_all")
        rules = []
        for r in doc.get("rules") or ():
            c, d = r.get("condition"), r["redirect"]
            rules.append(RoutingRule(
                Redirect(d.get("host"), d.get("code"), d.get("protocol"),
                         d.get("replace_prefix"), d.get("replace_key")),
                None if c is None else Condition(c.get("prefix"), c.get("code"))))
        return cls(doc.get("index"), doc.get("error"),
                   RedirectAll(ra["host"], ra.get("protocol")) if ra else None, tuple(rules))

    # -- decisions -----------------------------------------------------------------------------
    def rule_for(self, key: str, error_code: int | None = None) -> RoutingRule | None:
        """The first rule that applies to ``key`` (the key the path names): before the
        object is looked up (``error_code`` None: rules without an error condition), or once
        ``error_code`` is the answer (rules whose error condition is that code)."""
        for rule in self.rules:
            if rule.on_error != (error_code is not None):
                continue
            if rule.matches(key, error_code):
                return rule
        return None


def check(config: WebsiteConfig) -> None:
    """Raise ``WebsiteConfigError`` (AWS's code and message) for what AWS refuses."""
    if config.redirect_all is not None:
        if config.index is not None or config.error is not None or config.rules:
            raise WebsiteConfigError("InvalidRequest", "RedirectAllRequestsTo cannot be "
                                     "provided in conjunction with other Routing Rules.")
        if not config.redirect_all.host:
            raise WebsiteConfigError("InvalidRequest",
                                     "Valid HostName required in RedirectAllRequestsTo")
        _protocol(config.redirect_all.protocol)
        return
    if config.index is None:
        raise WebsiteConfigError("InvalidArgument", "A value for IndexDocument Suffix must be "
                                 "provided if RedirectAllRequestsTo is empty", "IndexDocument")
    if not config.index or "/" in config.index:
        raise WebsiteConfigError("InvalidArgument", "The IndexDocument Suffix is not well "
                                 "formed", "IndexDocument")
    if config.error is not None and not config.error:
        raise WebsiteConfigError("InvalidArgument", "The ErrorDocument Key is not well formed",
                                 "ErrorDocument")
    if len(config.rules) > MAX_RULES:
        raise WebsiteConfigError("InvalidRequest", f"{len(config.rules)} routing rules "
                                 "provided, the number of routing rules in a website "
                                 f"configuration is limited to {MAX_RULES}.")
    for rule in config.rules:
        c, r = rule.condition, rule.redirect
        if c is not None:
            if c.key_prefix is None and c.error_code is None:
                raise WebsiteConfigError(
                    "InvalidRequest", "Condition cannot be empty. To redirect all requests "
                    "without a condition, the condition element shouldn't be present.")
            if c.error_code is not None and not 400 <= c.error_code <= 599:
                raise WebsiteConfigError(
                    "InvalidRequest", f"The provided HTTP error code ({c.error_code}) is not "
                    "valid. Valid codes are 4XX or 5XX.")
        if all(v is None for v in (r.host, r.code, r.protocol, r.replace_prefix,
                                   r.replace_key)):
            raise WebsiteConfigError(
                "MalformedXML", "Redirect must contain at least one of the following: "
                "Protocol, HostName, ReplaceKeyPrefixWith, ReplaceKeyWith, HttpRedirectCode")
        if r.code is not None and not 301 <= r.code <= 399:
            raise WebsiteConfigError(
                "InvalidRequest", f"The provided HTTP redirect code ({r.code}) is not valid. "
                "Valid codes are 3XX except 300.")
        if r.replace_prefix is not None and r.replace_key is not None:
            raise WebsiteConfigError("InvalidRequest", "You can only define ReplaceKeyPrefix "
                                     "or ReplaceKey but not both.")
        if r.host is not None and not r.host:
            raise WebsiteConfigError("InvalidArgument", "The HostName is not well formed",
                                     "HostName")
        _protocol(r.protocol)


def _protocol(value: str | None) -> None:
    if value is not None and value not in PROTOCOLS:
        raise WebsiteConfigError("InvalidRequest", "Invalid protocol, protocol can be http or "
                                 "https. If not defined the protocol will be selected "
                                 "automatically.")


def key_path(key: str) -> str:
    """A key as a URL path (``/`` + the key, percent-encoded but its slashes)."""
    return "/" + quote(key, safe="/~!$&'()*+,;=:@")


def rule_location(rule: RoutingRule, key: str, scheme: str, host: str) -> tuple[int, str]:
    """(status, Location) of ``rule``'s redirect for a request of ``key`` that came as
    ``scheme``://``host``: the protocol and host default to the request's, the code to 301;
    the key is replaced whole (``ReplaceKeyWith``), in its matched prefix
    (``ReplaceKeyPrefixWith``), or kept."""
    r = rule.redirect
    if r.replace_key is not None:
        new_key = r.replace_key
    elif r.replace_prefix is not None:
        prefix = rule.condition.key_prefix if rule.condition is not None else None
        cut = len(prefix) if prefix and key.startswith(prefix) else 0
        new_key = r.replace_prefix + key[cut:]
    else:
        new_key = key
    return (r.code or 301,
            f"{r.protocol or scheme}://{r.host or host}{key_path(new_key)}")


def redirect_all_location(target: RedirectAll, path: str, scheme: str) -> str:
    """Where RedirectAllRequestsTo sends a request for ``path`` (as received, encoded)."""
    return f"{target.protocol or scheme}://{target.host}{path or '/'}"


def is_redirect_location(value: str) -> bool:
    """What ``x-amz-website-redirect-location`` may hold: a path in this store or an
    absolute http(s) URL."""
    return value.startswith(("/", "http://", "https://"))
