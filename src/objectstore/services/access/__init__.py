"""Authorization: the one place that decides whether a caller may do an operation."""

from .authorize import Access, authorize

__all__ = ["Access", "authorize"]
