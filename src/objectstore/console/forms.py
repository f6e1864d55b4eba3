"""Form bodies (application/x-www-form-urlencoded) and field parsing with readable messages."""

from __future__ import annotations

from ..domain.errors import InvalidInput
from ..domain.parsing import TooDeep, parse_form

MAX_FORM_BYTES = 256 * 1024


class Form:
    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    @classmethod
    def parse(cls, body: bytes, content_type: str) -> Form:
        if not body or "application/x-www-form-urlencoded" not in content_type:
            return cls([])
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidInput("the form was not sent as UTF-8") from exc
        try:
            return cls(parse_form(text))
        except TooDeep as exc:
            raise InvalidInput(f"the form has more than {exc.limit} fields") from exc

    def get(self, name: str, default: str = "") -> str:
        for k, v in self.pairs:
            if k == name:
                return v
        return default

    def getlist(self, name: str) -> list[str]:
        return [v for k, v in self.pairs if k == name]

    def text(self, name: str, label: str, *, required: bool = True, max_len: int = 255) -> str:
        value = self.get(name).strip()
        if required and not value:
            raise InvalidInput(f"{label} is required", name)
        if len(value) > max_len:
            raise InvalidInput(f"{label} must be at most {max_len} characters", name)
        return value

    def integer(self, name: str, label: str, *, required: bool = True, minimum: int = 1,
                maximum: int = 10**9) -> int | None:
        raw = self.get(name).strip()
        if not raw:
            if required:
                raise InvalidInput(f"{label} is required", name)
            return None
        if not raw.isdigit():
            raise InvalidInput(f"{label} must be a whole number, not {raw[:40]!r}", name)
        value = int(raw)
        if not minimum <= value <= maximum:
            raise InvalidInput(f"{label} must be between {minimum} and {maximum}", name)
        return value
