"""The website plane: a store's objects served as a static website (docs/website.md)."""
