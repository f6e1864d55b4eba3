"""The operation names: one enum (domain/operations.py) that the S3 operation table, the
handler table and the access tables all key on, so none of them can name an operation the
others do not know."""

from __future__ import annotations

from objectstore.domain.operations import Op
from objectstore.s3.handlers import HANDLERS
from objectstore.s3.routing import RULES, Step, Target
from objectstore.services.access.actions import OPERATIONS


def test_every_operation_is_routed_handled_and_has_an_action() -> None:
    routed = [rule.op for rule in RULES]
    assert len(routed) == len(set(routed))
    assert set(Op) - set(routed) == {Op.BypassGovernanceRetention}
    assert set(HANDLERS) == set(routed)
    assert set(OPERATIONS) == set(Op)


def test_names_stay_strings() -> None:
    # metrics labels, access logs and policy actions use the names as AWS spells them
    assert Op.GetObject == "GetObject"
    assert str(Op.DeleteObjects) == "DeleteObjects"
    assert f"s3:{Op.PutObject}" == "s3:PutObject"
    assert all(op.value == op.name for op in Op)


def test_rules_declare_the_steps_around_their_decision() -> None:
    by_op = {rule.op: rule for rule in RULES}
    # the pipeline runs them in its own order, whatever order a row lists them in
    assert by_op[Op.CopyObject].steps == (Step.ACL, Step.COPY_SOURCE)
    assert by_op[Op.PostObject].before == (Step.FORM,)
    assert by_op[Op.PostObject].after == (Step.ACL,)
    assert by_op[Op.DeleteObjects].after == (Step.DELETE_KEYS, Step.BYPASS)
    for rule in RULES:
        if rule.header == "x-amz-copy-source":
            assert Step.COPY_SOURCE in rule.steps, rule.op
        if rule.target is Target.SERVICE:
            assert Step.NO_STORE in rule.steps, rule.op
        assert Step.NO_STORE not in rule.before + rule.after
