"""Options more than one `scanchaos` subcommand takes, declared once (`cli_parser`, `load.cli`)."""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = [
    "bug_option",
    "jobs_option",
    "junit_option",
    "out_option",
    "seed_option",
    "target_option",
]


def bug_option(
    parser: argparse.ArgumentParser, help: str = "switch on a planted regression (repeatable)"
) -> None:
    parser.add_argument("--bug", action="append", default=[], metavar="NAME", help=help)


def out_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--out", type=Path, help="output folder (default: a new one in reports/runs)"
    )


def junit_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--junit",
        type=Path,
        metavar="PATH",
        help="also write the JUnit XML report to PATH (it is always in the output folder)",
    )


def jobs_option(parser: argparse.ArgumentParser, default: int | None, help: str) -> None:
    """`--jobs N`: `help` says what runs side by side in this subcommand."""
    parser.add_argument("--jobs", type=int, default=default, metavar="N", help=help)


def seed_option(parser: argparse.ArgumentParser, help: str) -> None:
    """`--seed N` (default 0): `help` says what the seed decides in this subcommand."""
    parser.add_argument("--seed", type=int, default=0, help=help)


def target_option(parser: argparse.ArgumentParser, help: str | None = None) -> None:
    """`--target FILE`: the service under test (default: the reference, targets/reference.toml)."""
    parser.add_argument(
        "--target",
        type=Path,
        metavar="FILE",
        help=help
        or "the service under test, as a target file (default: the reference service; "
        "see docs/targets.md and `scanchaos target check`)",
    )
