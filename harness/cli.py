"""`scanchaos`: run scenarios, gate a change, list what is known.

Exit codes: 0 pass, 1 invariant violated (or, for `gate`, the fixed service failed or a planted
regression escaped), 2 bad input, 3 infrastructure failure.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import functools
import io
import os
import signal
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from harness.checker import INVARIANTS, UnknownInvariantError, Verdict
from harness.cli_parser import parser as _parser
from harness.cli_target import chosen_bugs, chosen_target
from harness.exits import (
    EXIT_BAD_INPUT,
    EXIT_INFRA,
    EXIT_PASS,
    EXIT_VIOLATION,
    BadInput,
    Terminated,
    note_signal,
    raise_if_signalled,
)
from harness.history import History, HistoryFormatError
from harness.live.cluster import LiveClusterError
from harness.live.leftovers import RecordError, begin_live
from harness.load.cli import cmd_load, cmd_serve
from harness.project import gate_refs, project_config, resolve
from harness.report.ci import check_junit, publish
from harness.report.files import OutDirError
from harness.report.rundir import HISTORY_FILE, ReportInputError
from harness.scenario import ScenarioError, available, load
from reference_impl import BUGS, UnknownBugError, validate_bugs

if TYPE_CHECKING:
    from harness.live.runner import LiveOptions
    from harness.runner import RunResult


def _live_options(args: argparse.Namespace) -> LiveOptions:
    from harness.live.runner import LiveOptions

    if args.mode != "live":
        for flag, value in (("--scale", args.scale), ("--redis-server", args.redis_server)):
            if value is not None:
                raise BadInput(f"{flag} only applies to --mode live")
    return LiveOptions(
        scale=args.scale, redis_server=args.redis_server, outage=args.outage, kill=args.kill
    )


def _out(args: argparse.Namespace, label: str) -> Path:
    """`--out` (or the default folder), created before anything runs."""
    from harness.report import default_out_dir, prepare_out_dir

    return prepare_out_dir(args.out or default_out_dir(label))


def _cmd_run(args: argparse.Namespace) -> int:
    from harness.report import format_run, write_run
    from harness.runner import simulate

    target = chosen_target(args)
    bugs = chosen_bugs(args, target)
    check_junit(args.junit)
    scenario, _ = load(resolve(args.scenario))
    if (why := target.not_applicable(scenario)) is not None:
        raise BadInput(f"{args.scenario}: not applicable to target {target.name!r}: {why}")
    options = _live_options(args)
    out = _out(args, scenario.name + "".join(f"-{b}" for b in bugs))
    # Written as the run goes: a run killed half-way still leaves what it saw.
    journal = out / HISTORY_FILE
    began = time.perf_counter()
    run: Callable[..., RunResult] = simulate
    if args.mode == "live":
        begin_live(out)
        from harness.live.runner import run_live

        run = functools.partial(run_live, options=options)
    result = run(
        scenario, bugs=bugs, seed=args.seed, ref=args.scenario, journal=journal, target=target
    )
    seconds = time.perf_counter() - began
    written = write_run(
        out, result.history, result.verdict, description=scenario.description, seconds=seconds
    )
    print(format_run(result.history, result.verdict))
    print(f"wrote {out}/: {', '.join(p.name for p in written)}")
    for line in publish(out, junit=args.junit):
        print(line)
    return _exit_code(result.verdict)


def _exit_code(verdict: Verdict) -> int:
    """0 pass, 1 an invariant violated, 2 nothing could be judged (the input proves nothing)."""
    return {"pass": EXIT_PASS, "fail": EXIT_VIOLATION, "unknown": EXIT_BAD_INPUT}[verdict.outcome]


def _cmd_check(args: argparse.Namespace) -> int:
    from harness.checker import Checker
    from harness.report import format_run, prepare_out_dir, write_run

    checker = Checker(args.invariant or None)
    if args.jobs < 1:
        raise BadInput(f"--jobs: must be at least 1, got {args.jobs}")
    check_junit(args.junit)
    if args.out is not None and (args.out / "history.jsonl").resolve() == args.history.resolve():
        raise BadInput(
            f"--out: {args.out} holds the history being checked; choose another folder "
            "(`scanchaos report FOLDER` re-renders a run folder in place)"
        )
    history = _read_history(args.history)
    if args.target is not None:
        from harness.target import load_target

        # The service's own durations, not what the file's header says (if it says anything).
        timing = load_target(args.target).timing(slack=history.info.timing.slack)
        history.info = replace(history.info, timing=timing)
    if args.out is not None:
        prepare_out_dir(args.out)
    verdict = checker.check(history, jobs=args.jobs)
    print(format_run(history, verdict))
    if args.out is not None:
        written = write_run(args.out, history, verdict)
        print(f"wrote {args.out}/: {', '.join(p.name for p in written)}")
        for line in publish(args.out, junit=args.junit, summary=None):
            print(line)
    elif args.junit is not None:
        from harness.report import junit

        args.junit.parent.mkdir(parents=True, exist_ok=True)
        junit.write(args.junit, junit.run_suites(history, verdict))
        print(f"wrote {args.junit}")
    return _exit_code(verdict)


def _read_history(path: Path) -> History:
    """The history file `path`, or the one in the run folder `path`; a load run killed before it
    merged its records has them merged now (its history says it was interrupted)."""
    from harness.report.rundir import merge_interrupted_load

    if path.is_dir():
        path = path / HISTORY_FILE
    if not path.exists():
        merged = merge_interrupted_load(path.parent)
        if merged is not None:
            print(
                f"{path.parent}: the load run stopped before its end; wrote {path} from the "
                f"{len(merged.ops)} requests its processes recorded",
                file=sys.stderr,
            )
            return merged
    return History.read(path)


def _cmd_gate(args: argparse.Namespace) -> int:
    from harness.gate import default_jobs, format_gate, run_gate
    from harness.report import write_gate

    if args.jobs is not None and args.jobs < 1:
        raise BadInput(f"--jobs: must be at least 1, got {args.jobs}")
    check_junit(args.junit)
    target = chosen_target(args)
    names = gate_refs(args.scenario, only=args.only)
    # Every scenario is loaded and validated before anything runs.
    loaded = [load(name) for name in names]
    refs: dict[str, str] = {}
    for name, (scenario, source) in zip(names, loaded, strict=True):
        if scenario.name in refs:
            raise BadInput(f"{source}: name: scenario name {scenario.name!r} is used twice")
        refs[scenario.name] = name
    scenarios = [scenario for scenario, _ in loaded]
    options = _live_options(args)
    out = _out(args, "gate" if args.mode == "sim" else "gate-live")
    if args.mode == "live":
        from harness.live.gate import run_live_gate

        begin_live(out)
        result = run_live_gate(
            scenarios,
            seed=args.seed,
            options=options,
            jobs=args.jobs or 2,
            refs=refs,
            target=target,
        )
    else:
        result = run_gate(
            scenarios, seed=args.seed, refs=refs, jobs=args.jobs or default_jobs(), target=target
        )
    write_gate(out, result, refs=refs, all_scenarios=not args.only)
    print(format_gate(result))
    extra = "; regression runs in regressions/" if result.cell_runs else ""
    files = "summary.md, report.html, junit.xml, gate.json, one folder per scenario"
    print(f"wrote {out}/: {files}{extra}")
    for line in publish(out, junit=args.junit):
        print(line)
    return EXIT_PASS if result.passed else EXIT_VIOLATION


def _cmd_report(args: argparse.Namespace) -> int:
    from harness.report.html import render_folder

    for path in render_folder(args.folder):
        print(f"wrote {path}")
    return EXIT_PASS


def _cmd_explore(args: argparse.Namespace) -> int:
    from harness.explore import run_explore

    bugs = tuple(sorted(validate_bugs(args.bug)))
    if not args.budget > 0 or args.budget == float("inf"):
        raise BadInput(f"--budget: must be a positive number of seconds, got {args.budget}")
    if args.jobs < 1:
        raise BadInput(f"--jobs: must be at least 1, got {args.jobs}")
    out = _out(args, "explore-" + ("-".join(bugs) or "fixed"))
    return EXIT_VIOLATION if run_explore(bugs, args.budget, args.seed, args.jobs, out) else 0


def _cmd_list(_: argparse.Namespace) -> int:
    print("scenarios:")
    for name in available():
        print(f"  {name:<32} {load(name)[0].description}")
    config = project_config()
    if config.scenario_files():
        print(f"project scenarios ({config.pyproject}):")
        for path in config.scenario_files():
            print(f"  {path.stem.replace('_', '-'):<32} {load(str(path))[0].description}")
    print("planted regressions (--bug):")
    for name, what in BUGS.items():
        print(f"  {name:<32} {what}")
    print("invariants:")
    for name, inv in INVARIANTS.items():
        print(f"  {name:<32} {inv.description}")
    return EXIT_PASS


def _cmd_target(args: argparse.Namespace) -> int:
    from harness.target import describe, load_target

    print(describe(load_target(args.file)))
    return EXIT_PASS


def _cmd_cleanup(args: argparse.Namespace) -> int:
    from harness.live import leftovers

    if args.folder:
        results = [leftovers.reap_folder(folder) for folder in args.folder]
    else:
        results = leftovers.reap_stale()
    for reaped in results:
        print(reaped.line())
    if not results:
        print(f"no killed runs recorded (records: {leftovers.records_dir()})")
    return EXIT_PASS


COMMANDS = {
    "run": _cmd_run,
    "gate": _cmd_gate,
    "check": _cmd_check,
    "report": _cmd_report,
    "explore": _cmd_explore,
    "list": _cmd_list,
    "cleanup": _cmd_cleanup,
    "target": _cmd_target,
    "serve": cmd_serve,
    "load": cmd_load,
}


def _terminate(signum: int, _frame: object) -> None:
    note_signal(signum)
    raise Terminated(f"signal {signum}")


def _interrupt(signum: int, _frame: object) -> None:
    note_signal(signum)
    raise KeyboardInterrupt


def _stacks_on_sigusr1() -> None:
    """A harness that seems stuck says what each of its threads is doing: `kill -USR1 PID`."""
    # Not when stderr is no file (called in-process with stderr captured): nowhere to print.
    with contextlib.suppress(AttributeError, ValueError, io.UnsupportedOperation):
        faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)


@contextlib.contextmanager
def _command_signals() -> Iterator[None]:
    """SIGTERM and Ctrl-C stop the command; the caller's handlers are back when it ends.

    Restoring matters when `main` is called in-process (tests, a user's script): a handler
    left behind would turn the caller's own SIGTERM into an exception in whatever runs next.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous_term = signal.signal(signal.SIGTERM, _terminate)
    # Ctrl-C stops every command, also one started with SIGINT ignored (a background job
    # of a shell without job control, some CI runners): Python would keep it ignored.
    previous_int = signal.signal(signal.SIGINT, _interrupt)
    note_signal(None)
    _stacks_on_sigusr1()
    try:
        yield
    finally:
        note_signal(None)  # nothing of this command's signals outlives it
        # None: a handler installed outside Python, which cannot be put back from here.
        if previous_term is not None:
            signal.signal(signal.SIGTERM, previous_term)
        if previous_int is not None:
            signal.signal(signal.SIGINT, previous_int)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one `scanchaos` command in this process and return its exit code.

    An interrupted command (Ctrl-C, SIGTERM) stops what it started, says so on stderr and
    raises KeyboardInterrupt to the caller, as any interrupted function does: a test runner
    or script calling it is stopped too, not handed a number it may ignore.
    `console_main` turns that into the exit code 128 + signal.

    >>> main(["list"])  # doctest: +SKIP
    0
    """
    args = _parser().parse_args(argv)
    with _command_signals():
        try:
            code = _run_command(args)
            raise_if_signalled()  # one whose exception a fork or a finalizer swallowed
            return code
        except KeyboardInterrupt:
            print("scanchaos: interrupted", file=sys.stderr)
            raise


def console_main() -> int:
    """The `scanchaos` program: `main` with an interruption as exit code 128 + signal."""
    try:
        return main()
    except KeyboardInterrupt as error:
        return 128 + (signal.SIGTERM if isinstance(error, Terminated) else signal.SIGINT)


def _run_command(args: argparse.Namespace) -> int:
    try:
        return COMMANDS[args.command](args)
    except (
        BadInput,
        ScenarioError,
        UnknownBugError,
        UnknownInvariantError,
        HistoryFormatError,
        ReportInputError,
        OutDirError,
        RecordError,
    ) as error:
        print(f"scanchaos: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except LiveClusterError as error:
        print(f"scanchaos: error: {error}", file=sys.stderr)
        return EXIT_INFRA
    except BrokenPipeError:
        # The reader went away (`scanchaos list | head`): say nothing more, as cat would.
        # Python's documented recipe: point stdout at devnull so the exit flush cannot fail.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except Exception:
        traceback.print_exc()
        print("scanchaos: infrastructure failure (see the traceback above)", file=sys.stderr)
        return EXIT_INFRA


if __name__ == "__main__":
    sys.exit(main())
