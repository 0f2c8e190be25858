"""The tests' one way to wait: poll a condition until a deadline."""

from __future__ import annotations

import itertools
import time

from tests.waiting import wait_for


def test_returns_the_first_true_value() -> None:
    counter = itertools.count()
    assert wait_for(lambda: next(counter) >= 3 and "ready", 5.0, 0.001) == "ready"


def test_gives_up_at_the_deadline_with_the_last_value() -> None:
    began = time.monotonic()
    assert wait_for(lambda: "", 0.05, 0.01) == ""
    assert time.monotonic() - began >= 0.05
