"""The website plane's own HTML pages (errors and redirects): never S3 XML."""

from __future__ import annotations

from html import escape

REASONS = {301: "Moved Permanently", 302: "Found", 304: "Not Modified", 307:
           "Temporary Redirect", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 412: "Precondition Failed",
           416: "Range Not Satisfiable", 500: "Internal Server Error",
           503: "Service Unavailable"}


def reason(status: int) -> str:
    return REASONS.get(status, "Error")


def error_page(status: int, code: str, message: str, request_id: str,
               details: dict[str, str] | None = None, note: str | None = None) -> bytes:
    """The page AWS's website endpoints answer with: the status, the S3 error code and
    message, what was asked for, and the request id."""
    title = f"{status} {reason(status)}"
    items = [("Code", code), ("Message", message), *(details or {}).items(),
             ("RequestId", request_id)]
    lines = "".join(f"<li>{escape(k)}: {escape(v)}</li>" for k, v in items)
    extra = f"<h3>{escape(note)}</h3>" if note else ""
    return (f"<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>{title}</title>"
            f"</head>\n<body>\n<h1>{title}</h1>\n<ul>{lines}</ul>\n{extra}<hr/>\n</body>\n"
            "</html>\n").encode()


def redirect_page(status: int, location: str) -> bytes:
    title = f"{status} {reason(status)}"
    href = escape(location, quote=True)
    return (f"<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>{title}</title>"
            f"</head>\n<body>\n<h1>{title}</h1>\n<p><a href=\"{href}\">{href}</a></p>\n"
            "</body>\n</html>\n").encode()
