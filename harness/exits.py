"""Exit codes of every `scanchaos` command, and the user mistake that means exit 2."""

from __future__ import annotations

__all__ = ["EXIT_BAD_INPUT", "EXIT_INFRA", "EXIT_PASS", "EXIT_VIOLATION", "BadInput"]

EXIT_PASS, EXIT_VIOLATION, EXIT_BAD_INPUT, EXIT_INFRA = 0, 1, 2, 3


class BadInput(Exception):
    """A user mistake: one line on stderr, exit 2."""
