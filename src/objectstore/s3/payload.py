"""A verified S3 request body as the object engine consumes it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

from .body import Body


class BodyPayload:
    """``services.engine.transfer.Payload`` over a :class:`Body`: the engine hashes the
    pieces as it stores them, then asks for the verdict (length, Content-MD5, checksums)."""

    def __init__(self, body: Body) -> None:
        self.body = body

    def chunks(self) -> AsyncIterator[bytes]:
        return self.body.chunks()

    def update(self, data: bytes) -> None:
        self.body.verifier.update(data)

    def lanes(self) -> list[Callable[[bytes], None]]:
        """``update`` in independent parts that may run side by side (``PayloadVerifier``)."""
        return list(self.body.verifier.lanes())

    def finish(self, expected_length: int) -> None:
        self.body.finish(expected_length)

    @property
    def md5_hex(self) -> str:
        return self.body.verifier.md5_hex

    @property
    def checksums(self) -> dict[str, str]:
        return self.body.verifier.checksums

    @property
    def size(self) -> int:
        return self.body.size
