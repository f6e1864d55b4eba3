"""Deprecated: the one S3 error type is :class:`objectstore.s3.errors.S3Error`.

``S3AuthError`` is another name for it, kept while tests/security still imports it; to be
removed.
"""

from __future__ import annotations

from .errors import STATUS_BY_CODE, S3Error, s3_error

S3AuthError = S3Error

__all__ = ["STATUS_BY_CODE", "S3AuthError", "S3Error", "s3_error"]
