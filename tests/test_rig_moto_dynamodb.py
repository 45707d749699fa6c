"""The rig's faster DynamoDB comparisons (localrig/aws/dynamodb.py) answer exactly as moto's own: for any two
values, strings or numbers, every comparison gives moto's result."""

from __future__ import annotations

import operator

from hypothesis import given
from hypothesis import strategies as st

from localrig.aws import dynamodb as moto_dynamodb

OPERATORS = {"__eq__": operator.eq, "__ne__": operator.ne, "__lt__": operator.lt, "__le__": operator.le,
             "__gt__": operator.gt, "__ge__": operator.ge}
values = st.one_of(st.builds(lambda s: {"S": s}, st.text(max_size=8)),
                   st.builds(lambda n: {"N": str(n)}, st.integers(-1000, 1000)))


@given(values, values)
def test_every_comparison_matches_moto_s(a, b):
    from moto.dynamodb.models.dynamo_type import DynamoType

    moto_dynamodb.install()
    left, right = DynamoType(a), DynamoType(b)
    ordered = a.keys() == b.keys()  # moto raises for < between a string and a number, patched or not
    for name, op in OPERATORS.items():
        if ordered or name in ("__eq__", "__ne__"):
            assert op(left, right) == moto_dynamodb.ORIGINALS[name](left, right), (name, a, b)
    assert hash(left) == hash(DynamoType(dict(a)))
