"""Fault windows indexed by time: which windows a span of time meets, without walking them all.

A history of a million operations has thousands of scans and hundreds of fault windows; asking
every window about every scan or read is the one quadratic cost the checker would have.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from typing import Generic, TypeVar

__all__ = ["Windows"]

_F = TypeVar("_F")


class Windows(Generic[_F]):
    """Items, each with a closed span [begin, end], answering which spans meet a given one.

    >>> w = Windows(["a", "b", "c"], [5.0, 1.0, 9.0], [6.0, 2.0, 9.5])
    >>> w.meeting(1.5, 5.0), w.meeting(7.0, 8.0), w.meeting(9.5, 20.0)
    (['a', 'b'], [], ['c'])
    """

    def __init__(self, items: Sequence[_F], begins: Sequence[float], ends: Sequence[float]) -> None:
        order = sorted(range(len(items)), key=lambda i: begins[i])
        self._items = list(items)
        self._order = order
        self._begins = [begins[i] for i in order]
        self._ends = [ends[i] for i in order]
        # The latest end among the first k windows by begin: a walk back from a moment stops
        # once no earlier window reaches it.
        self._reach: list[float] = []
        reach = float("-inf")
        for end in self._ends:
            reach = max(reach, end)
            self._reach.append(reach)

    def meeting(self, begin: float, end: float) -> list[_F]:
        """The items whose span meets [begin, end] (span begin <= end and span end >= begin),
        in the order they were given: callers that take the first match, or sum over the
        matches, get what a walk over every item in that order would give."""
        found = []
        i = bisect_right(self._begins, end) - 1
        ends, reach = self._ends, self._reach
        while i >= 0 and reach[i] >= begin:
            if ends[i] >= begin:
                found.append(self._order[i])
            i -= 1
        found.sort()
        return [self._items[i] for i in found]

    def meets(self, begin: float, end: float) -> bool:
        i = bisect_right(self._begins, end) - 1
        ends, reach = self._ends, self._reach
        while i >= 0 and reach[i] >= begin:
            if ends[i] >= begin:
                return True
            i -= 1
        return False
