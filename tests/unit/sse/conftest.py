"""The engine fixture the encryption tests share."""

from tests.unit.services.test_engine import services  # noqa: F401
