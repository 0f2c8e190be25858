"""Exit codes of every `scanchaos` command, and the user mistake that means exit 2."""

from __future__ import annotations

import signal

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_INFRA",
    "EXIT_PASS",
    "EXIT_VIOLATION",
    "BadInput",
    "Terminated",
    "note_signal",
    "raise_if_signalled",
]

EXIT_PASS, EXIT_VIOLATION, EXIT_BAD_INPUT, EXIT_INFRA = 0, 1, 2, 3


class BadInput(Exception):
    """A user mistake: one line on stderr, exit 2."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every context manager stops what it started."""


#: the signals received during the running command (see `raise_if_signalled`)
_signalled: list[int] = []


def note_signal(signum: int | None) -> None:
    """Remember a signal the command received (None: forget them, as a command starts)."""
    if signum is None:
        _signalled.clear()
    else:
        _signalled.append(signum)


def raise_if_signalled() -> None:
    """Raise the interruption of a signal received during the command, again.

    A signal handler's exception can be lost: Python ignores an exception raised in an
    at-fork callback (logging's lock release runs after every fork) or in `__del__`, and prints
    "Exception ignored in". A SIGTERM that lands while the harness forks a server would be
    forgotten and the run would go on to exit 0; the places that wait call this instead.
    """
    if _signalled:
        if _signalled[0] == signal.SIGTERM:
            raise Terminated(f"signal {_signalled[0]}")
        raise KeyboardInterrupt
