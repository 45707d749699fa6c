"""moto's DynamoDB Query at DynamoDB's speed for string keys, with the same answers.

moto answers a Query by walking every item of the table and sorting the matches, comparing each key through
``DynamoType.cast_value`` (a property that tests the type five times before returning the string itself).
With 1,000 builds in the history table a page of 20 costs ~30 ms of CPU in moto, where DynamoDB's cost
depends on the page, not the table: the rig measured moto, not the app. For two string (``S``) values
``cast_value`` is the value itself, so comparing the values directly gives exactly moto's result; every
other type (numbers as Decimal, sets, lists, maps, binary) still goes through moto's own comparison.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _strings(a: Any, b: Any) -> bool:
    return getattr(a, "type", None) == "S" and getattr(b, "type", None) == "S"


def _fast(original: Callable[[Any, Any], bool], compare: Callable[[str, str], bool]) -> Callable[[Any, Any], bool]:
    def method(self: Any, other: Any) -> bool:
        if _strings(self, other):
            return compare(self.value, other.value)
        return original(self, other)
    method.__name__ = original.__name__
    return method


_COMPARISONS = (("__eq__", str.__eq__), ("__ne__", str.__ne__), ("__lt__", str.__lt__), ("__le__", str.__le__),
                ("__gt__", str.__gt__), ("__ge__", str.__ge__))
ORIGINALS: dict[str, Callable[[Any, Any], bool]] = {}  # moto's own methods, kept for the test that compares


def install() -> None:
    from moto.dynamodb.models.dynamo_type import DynamoType

    if ORIGINALS:
        return
    hash_of = DynamoType.__hash__
    for name, compare in _COMPARISONS:
        ORIGINALS[name] = getattr(DynamoType, name)
        setattr(DynamoType, name, _fast(ORIGINALS[name], compare))
    DynamoType.__hash__ = hash_of
