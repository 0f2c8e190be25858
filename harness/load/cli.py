"""`scanchaos serve` and `scanchaos load`: the live cluster for Locust, and the load test itself."""

from __future__ import annotations

import argparse
import shlex
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path

from harness.cli_options import (
    bug_option,
    junit_option,
    out_option,
    seed_option,
    target_option,
)
from harness.exits import EXIT_PASS, EXIT_VIOLATION, BadInput
from harness.live.timing import DEFAULT_SCALE
from harness.load.spec import DEFAULT_SPEC


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `serve` and `load` to the `scanchaos` parser."""

    def common(parser: argparse.ArgumentParser, workers: int) -> None:
        parser.add_argument(
            "--workers", type=int, default=workers, help=f"Gunicorn workers (default {workers})"
        )
        bug_option(parser, help="a planted regression (with --target: one of the target's own)")
        target_option(parser)
        parser.add_argument(
            "--scale",
            type=float,
            default=DEFAULT_SCALE,
            help=f"wall seconds per scenario second (default {DEFAULT_SCALE}: TTL 300 s -> 15 s)",
        )
        parser.add_argument("--redis-server", metavar="PATH", help="the redis-server binary")

    serve = sub.add_parser("serve", help="the live cluster in the foreground, for Locust")
    common(serve, 3)

    load = sub.add_parser("load", help="Locust against the live cluster, with a nemesis")
    common(load, 4)
    load.add_argument("--users", type=int, default=20, help="Locust users (default 20)")
    load.add_argument("--spawn-rate", type=float, default=10.0, help="users started a second")
    load.add_argument("--duration", type=float, default=30.0, help="wall seconds of load")
    load.add_argument(
        "--nemesis",
        default=DEFAULT_SPEC,
        metavar="SPEC",
        help="fault schedule, e.g. 'kill/6s,pause@4s/10s+1s,restart@15s+1s' or 'none' "
        f"(default {DEFAULT_SPEC!r}; grammar in docs/load.md)",
    )
    out_option(load)
    junit_option(load)
    seed_option(load, "seeds the nemesis's choice of victims")
    load.add_argument("--scanners", type=int, default=2, help="users that start scans")
    load.add_argument(
        "--linger", type=float, default=60.0, help="scenario seconds a result is polled after"
    )
    load.add_argument(
        "--poll-interval", type=float, default=0.05, help="wall seconds between a user's requests"
    )
    load.add_argument(
        "--locust-workers",
        type=int,
        default=0,
        help="run Locust distributed: a master and N workers on 127.0.0.1 (default: one process)",
    )


def _locustfile() -> Path:
    """The shipped locustfile, wherever the package is installed (not imported here: that would
    bring gevent into this process)."""
    import scenarios

    return Path(scenarios.__file__).parent / "locustfile.py"


def cmd_serve(args: argparse.Namespace) -> int:
    from harness.live.cluster import LiveCluster
    from harness.load.target import load_config, served_target

    target = served_target(args.target)
    config = load_config(target, args.bug)
    bugs = sorted(args.bug)
    if args.workers < 1:
        raise BadInput(f"--workers must be at least 1, got {args.workers}")
    from harness.live.leftovers import begin_live

    begin_live(None)
    with LiveCluster(
        workers=args.workers,
        config=config,
        scale=args.scale,
        redis_server=args.redis_server,
        target=target,
        regressions=tuple(bugs),
    ) as cluster:
        speak = ["--target", str(args.target)] if target is not None else []
        locust = shlex.join(
            ["locust", "-f", str(_locustfile()), "--host", cluster.base_url, "--headless", *speak]
        )
        print(
            f"serving {cluster.base_url} ({args.workers} workers, scale {args.scale:g}, "
            f"bugs: {', '.join(bugs) or 'none'}); Ctrl-C to stop\n"
            f"  e.g. {locust} -u 20 -r 10 -t 60s",
            flush=True,
        )
        threading.Event().wait()  # until Ctrl-C; the cluster is stopped on the way out
    return EXIT_PASS


def _progress_writer() -> Callable[[str], None]:
    """A progress line: rewritten in place on a terminal, a line every 5 s otherwise."""
    last = [0.0]

    def write(text: str) -> None:
        if sys.stderr.isatty():
            sys.stderr.write(text)
            sys.stderr.flush()
            return
        now = time.monotonic()
        if text.endswith("\n") or now - last[0] >= 5.0:
            last[0] = now
            sys.stderr.write(text.strip("\r\n").strip() + "\n")
            sys.stderr.flush()

    return write


def cmd_load(args: argparse.Namespace) -> int:
    from harness.live.leftovers import begin_live
    from harness.load.run import LoadOptionError, LoadOptions, run_load, summary, validate
    from harness.load.spec import NemesisSpecError
    from harness.report import default_out_dir, format_run, prepare_out_dir, write_run
    from harness.report.ci import check_junit, publish

    bugs = tuple(sorted(set(args.bug)))
    check_junit(args.junit)
    out = args.out or default_out_dir("load" + "".join(f"-{b}" for b in bugs))
    # Every other option is named as the field it sets.
    given = {
        f.name: getattr(args, f.name) for f in fields(LoadOptions) if f.name not in ("bugs", "out")
    }
    options = LoadOptions(**given, bugs=bugs, out=out)
    try:
        validate(options)
    except (LoadOptionError, NemesisSpecError) as error:
        raise BadInput(str(error)) from None
    prepare_out_dir(options.out)
    begin_live(options.out)
    result = run_load(options, progress=_progress_writer())
    write_run(result.out, result.history, result.verdict)
    print(format_run(result.history, result.verdict))
    print(summary(result))
    print(
        f"wrote {result.out}/history.jsonl, verdict.json, report.html, timeline.png, "
        "locust_stats.csv, locust.html, locust.log"
    )
    for line in publish(result.out, junit=args.junit, summary=None):
        print(line)
    return EXIT_PASS if result.verdict.passed else EXIT_VIOLATION
