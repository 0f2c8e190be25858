"""The `scanchaos` command line: every subcommand, option and help text (see `harness.cli`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli_options import (
    bug_option,
    jobs_option,
    junit_option,
    out_option,
    seed_option,
    target_option,
)
from harness.load.cli import add_commands as add_load_commands

__all__ = ["parser"]


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scanchaos",
        description="Resilience harness and chaos simulator for the multi-worker scan service.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run one scenario and check its history")
    run.add_argument("scenario", help="a scenario name (see `scanchaos list`) or a path")
    bug_option(run)
    seed_option(run, "seeds the simulation's choices (default 0)")
    out_option(run)
    junit_option(run)
    target_option(run)
    _mode_arguments(run)

    gate = sub.add_parser("gate", help="every scenario on the fixed service, then the kill matrix")
    seed_option(gate, "seeds every run (default 0)")
    out_option(gate)
    gate.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME_OR_PATH",
        help="also run this scenario (a file, or a project scenario's name) beside the built-in "
        "ones and the project's (repeatable)",
    )
    gate.add_argument(
        "--only",
        action="store_true",
        help="run only the scenarios given with --scenario",
    )
    junit_option(gate)
    target_option(gate)
    _mode_arguments(gate)
    jobs_option(
        gate,
        None,
        "worker processes for the runs (default: one per CPU; 1 runs in this process); "
        "live: clusters run side by side (default 2)",
    )

    check = sub.add_parser(
        "check",
        help="judge any history file (live, load, your own client, converted logs)",
        description="Judge a history file (JSON Lines: a run header, then op and fault "
        "records) against the invariants. Exit 0 pass, 1 violated, 2 malformed or unknown.",
    )
    check.add_argument(
        "history", type=Path, help="the history file, or a run folder holding history.jsonl"
    )
    check.add_argument(
        "--invariant",
        action="append",
        default=[],
        metavar="NAME",
        help="check only this invariant (repeatable; default: all, see `scanchaos list`)",
    )
    jobs_option(
        check,
        1,
        "judge in N processes, the history split by scan owner (default 1; the same "
        "verdict; pays only with idle cores, on histories of millions of operations)",
    )
    check.add_argument(
        "--out",
        type=Path,
        help="also write verdict.json, summary.md, report.html and timeline.png into this folder",
    )
    junit_option(check)
    target_option(
        check,
        "judge by this target's durations instead of those in the history's header (a history "
        "your own client recorded against your service)",
    )

    report = sub.add_parser(
        "report",
        help="re-render report.html and timeline.png from a run (or gate) folder",
        description="Re-render report.html and timeline.png from a run folder's history.jsonl "
        "and verdict.json (a gate folder: every scenario's, and the gate page with gate.json).",
    )
    report.add_argument("folder", type=Path, help="a run folder or a gate folder")

    explore = sub.add_parser(
        "explore", help="generate fault schedules until one breaks an invariant; shrink it"
    )
    bug_option(explore)
    explore.add_argument(
        "--budget", type=float, default=60.0, help="wall seconds of exploration (default 60)"
    )
    jobs_option(explore, 1, "processes; job i explores with seed + i (default 1)")
    seed_option(explore, "the first job's seed: same seed, same schedules")
    out_option(explore)

    sub.add_parser("list", help="list scenarios, planted regressions and invariants")

    cleanup = sub.add_parser(
        "cleanup",
        help="stop the processes a killed live run or load left running",
        description="Stop what killed live runs left behind: every process recorded by a run "
        "whose harness is gone (checked by command line and start time), and whatever carries "
        "its token. Without FOLDER: every run recorded on this machine (see "
        "harness.live.leftovers); with FOLDER: the processes.json in those run folders.",
    )
    cleanup.add_argument("folder", type=Path, nargs="*", help="run folders (default: all runs)")

    target = sub.add_parser("target", help="work with target files (the services under test)")
    target_sub = target.add_subparsers(dest="target_command", required=True)
    target_check = target_sub.add_parser(
        "check",
        help="validate a target file",
        description="Validate a target file: exit 0 and a summary of what it declares, or exit 2 "
        "with one line naming the field that is wrong.",
    )
    target_check.add_argument("file", type=Path, help="the target file (TOML)")
    add_load_commands(sub)
    return parser


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _choice(
    parser: argparse.ArgumentParser, flag: str, choices: tuple[str, ...], help: str
) -> None:
    """`flag` taking one of `choices`, the first by default."""
    parser.add_argument(flag, choices=choices, default=choices[0], help=help)


def _mode_arguments(parser: argparse.ArgumentParser) -> None:
    _choice(
        parser,
        "--mode",
        ("sim", "live"),
        "sim: embedded, virtual time; live: real redis-server and Gunicorn on 127.0.0.1",
    )
    parser.add_argument(
        "--scale",
        type=_positive,
        default=None,
        help="live: every duration times this factor (default 0.05: the 300 s TTL lasts 15 s; "
        "1 for a target whose durations are wall seconds, durations.real)",
    )
    parser.add_argument(
        "--redis-server", metavar="PATH", help="live: the redis-server binary (default: PATH)"
    )
    _choice(
        parser,
        "--outage",
        ("stop", "pause"),
        "live: a Redis outage shuts the server down (stop) or SIGSTOPs it (pause)",
    )
    _choice(
        parser,
        "--kill",
        ("worker", "horse"),
        "live, a target with [jobs]: restarting the job worker running a scan SIGKILLs "
        "the worker and its work-horse (worker) or the work-horse only (horse)",
    )
