"""The web console: server-rendered pages on the management port (see docs/console.md)."""

from __future__ import annotations

from .app import Console, create_console

__all__ = ["Console", "create_console"]
