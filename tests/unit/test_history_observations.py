"""The history run's listing lines and copy sources as candidate writes
(tests/cluster/linearizable.Recorder.observations)."""

from __future__ import annotations

from tests.cluster.linearizable import Raw, Recorder, md5
from tests.support.history import check


def _recorder() -> Recorder:
    rec = Recorder(["k0", "k1", "k2"])
    for wid, key, t in (("a", "k0", 0.0), ("b", "k2", 0.0)):
        rec.new_bytes(wid)
        rec.history.write(key, wid, t, t + 1, label="PUT")
    rec.copy_source["c"] = "k0"
    rec.history.write("k1", "c", 2, None, label="COPY")  # no answer: bytes unknown
    return rec


def test_an_unanswered_copy_fits_a_listing_line_with_its_sources_bytes() -> None:
    rec = _recorder()
    rec.raws.append(Raw("k1", md5(rec.new_bytes("a")), 3, 4, "LIST", 0, ""))
    ops = rec.observations(60)
    assert ops[-1].observed == frozenset({"c"})
    assert check(ops, 60).ok


def test_bytes_its_source_never_held_or_too_late_fit_no_write() -> None:
    rec = _recorder()
    rec.raws.append(Raw("k1", md5(rec.new_bytes("b")), 3, 4, "LIST", 0, ""))  # k2's bytes
    rec.raws.append(Raw("k1", md5(rec.new_bytes("a")), 100, 101, "LIST", 0, ""))  # too late
    rec.raws.append(Raw("k1", "0" * 32, 3, 4, "LIST", 0, ""))  # nobody's bytes
    kinds = [a.kind for a in check(rec.observations(60), 60).anomalies]
    assert kinds == ["never-written", "never-written", "never-written"]


def test_an_absent_key_in_a_listing_is_a_read_of_nothing() -> None:
    rec = _recorder()
    rec.raws.append(Raw("k0", None, 3, 4, "LIST", 0, ""))  # k0 was PUT before: missing
    assert [a.kind for a in check(rec.observations(60), 60).anomalies] == [
        "listing-missing-key"]
