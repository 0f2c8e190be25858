"""Which target a command runs, and which of its regressions (`--target`, `--bug`)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from reference_impl import validate_bugs

if TYPE_CHECKING:
    from harness.target import Target

__all__ = ["chosen_bugs", "chosen_target"]


def chosen_target(args: argparse.Namespace) -> Target:
    """`--target FILE`, validated (default: the reference), and one its mode can run: a
    `[wsgi]` app runs live only, an in-process `[service]` other than the reference in
    simulation only."""
    from harness.target import TargetError, load_target, reference_target

    target = reference_target() if args.target is None else load_target(args.target)
    if getattr(args, "mode", "sim") == "live":
        from harness.live.runner import check_live

        check_live(target)
    elif target.kind == "wsgi":
        raise TargetError(
            f"{target.ref}: field wsgi: a WSGI app runs over HTTP, in live mode only; "
            "add --mode live"
        )
    return target


def chosen_bugs(args: argparse.Namespace, target: Target) -> tuple[str, ...]:
    """`--bug` names: the reference's planted regressions, or the target's own."""
    if target.is_reference:
        return tuple(sorted(validate_bugs(args.bug)))
    target.check_regressions(args.bug)
    return tuple(sorted(set(args.bug)))
