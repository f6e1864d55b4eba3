"""``senders.send_run``: a lane's messages in order, stopping at the first that is not
confirmed, through a sender's ``send_many`` when it has one, else ``send`` by ``send``."""

from __future__ import annotations

from collections.abc import Sequence

from objectstore.services.events.senders import DeliveryError, send_run
from tests.support.aio import in_own_loop


class OneByOne:
    """A sender with ``send`` only: fails as told at the message with that body."""

    def __init__(self, fail: dict[bytes, Exception]) -> None:
        self.fail = fail
        self.sent: list[tuple[bytes, str]] = []

    async def send(self, body: bytes, *, key: str) -> None:
        if body in self.fail:
            raise self.fail[body]
        self.sent.append((body, key))

    async def close(self) -> None:
        return None


class Runs(OneByOne):
    async def send_many(self, bodies: Sequence[bytes]) -> tuple[int, DeliveryError | None]:
        if b"boom" in bodies:
            raise RuntimeError("bug")
        return len(bodies) - 1, DeliveryError("503", permanent=False)


def test_one_by_one_stops_at_the_first_failure() -> None:
    s = OneByOne({b"c": DeliveryError("refused", permanent=True)})
    sent, error = in_own_loop(send_run(s, [b"a", b"b", b"c", b"d"], ["k1", "k2", "k3", "k4"]))
    assert (sent, str(error), error.permanent if error else None) == (2, "refused", True)
    assert s.sent == [(b"a", "k1"), (b"b", "k2")]  # each with its own key, d never sent
    assert in_own_loop(send_run(s, [b"x"], ["k"])) == (1, None)


def test_a_senders_bug_stops_the_run_as_a_retryable_error() -> None:
    s = OneByOne({b"b": ValueError("oops")})
    sent, error = in_own_loop(send_run(s, [b"a", b"b", b"c"], ["k", "k", "k"]))
    assert sent == 1 and error is not None and not error.permanent
    assert str(error) == "ValueError: oops"
    sent, error = in_own_loop(send_run(Runs({}), [b"boom"], ["k"]))
    assert (sent, str(error)) == (0, "RuntimeError: bug")


def test_send_many_is_used_when_the_sender_has_it() -> None:
    s = Runs({})
    sent, error = in_own_loop(send_run(s, [b"a", b"b", b"c"], ["k", "k", "k"]))
    assert (sent, str(error)) == (2, "503")
    assert s.sent == []  # not send by send
