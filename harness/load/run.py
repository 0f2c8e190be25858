"""`scanchaos load`: Locust against a live cluster while a nemesis breaks it; one checker judges.

The harness process starts the `LiveCluster`, runs Locust headless as its own process group (it
monkeypatches with gevent: it is never imported here), runs the nemesis on a thread beside it, and
when Locust is done stops everything, merges what every Locust process recorded with the
nemesis's fault log into one `History`, checks it and writes the reports.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from subprocess import Popen

import scenarios
from harness.checker import Checker, Verdict
from harness.checker.model import Context
from harness.history import History, RunInfo, Timing
from harness.live.cluster import LiveCluster, LiveClusterError
from harness.live.processes import popen, wait_listening
from harness.live.redis_server import free_port
from harness.live.slack import with_measured_slack
from harness.load.nemesis import Nemesis, NemesisStats
from harness.load.record import (
    RecordCounter,
    clear_folder,
    load_slack,
    merge,
    read_folder,
    write_run_header,
)
from harness.load.spec import DEFAULT_SPEC, REPLICATION, PlannedFault, parse, plan
from harness.load.target import check_faults, load_config, served_target
from reference_impl import ServiceConfig

LOCUSTFILE = Path(scenarios.__file__).parent / "locustfile.py"
#: wall seconds Locust's users get to finish their task when the run ends
STOP_TIMEOUT = 3.0
#: wall seconds Locust may take beyond the run (start-up, stopping, the verdict at quit)
LOCUST_GRACE = 90.0
#: ports tried for a distributed Locust master (another process may take a free port first)
PORT_ATTEMPTS = 5
#: wall seconds a Locust master may take to listen on its port
MASTER_START_TIMEOUT = 60.0
#: a worker started in a folder of its own still imports this harness (`python -m` puts only
#: its working folder on the import path)
IMPORT_PATH = os.pathsep.join(
    p for p in (str(Path(__file__).resolve().parents[2]), os.environ.get("PYTHONPATH")) if p
)


@dataclass(frozen=True)
class LoadOptions:
    users: int = 20
    spawn_rate: float = 10.0
    #: wall seconds of load
    duration: float = 30.0
    workers: int = 4
    bugs: tuple[str, ...] = ()
    nemesis: str = DEFAULT_SPEC
    out: Path = Path("reports/runs/load")
    scale: float = 0.05
    seed: int = 0
    #: users that start scans; each holds a Gunicorn worker while its scan runs
    scanners: int = 2
    #: scenario seconds a finished scan is still polled
    linger: float = 60.0
    #: wall seconds between one user's requests
    poll_interval: float = 0.05
    #: 0: one Locust process; N: a master and N workers on loopback
    locust_workers: int = 0
    redis_server: str | None = None
    #: the service under test, a target file (None: the reference)
    target: Path | None = None


class LoadRunError(LiveClusterError):
    """The load run itself failed (Locust crashed, recorded nothing): no verdict to give."""


class LoadOptionError(ValueError):
    """An option `scanchaos load` cannot run with; the message names the option."""


def validate(options: LoadOptions) -> list[PlannedFault]:
    """Refuse bad options before anything starts; return the nemesis's plan."""
    checks: list[tuple[bool, str]] = [
        (options.users >= 1, f"--users must be at least 1, got {options.users}"),
        (options.spawn_rate > 0, f"--spawn-rate must be positive, got {options.spawn_rate}"),
        (options.duration > 0, f"--duration must be positive, got {options.duration}"),
        (options.workers >= 2, f"--workers must be at least 2, got {options.workers}"),
        (options.scale > 0, f"--scale must be positive, got {options.scale}"),
        (options.scanners >= 0, f"--scanners must be 0 or more, got {options.scanners}"),
        (
            options.scanners < options.workers,
            f"--scanners ({options.scanners}) must be fewer than --workers ({options.workers}): "
            "a running scan holds a worker, polls need the others",
        ),
        (options.linger >= 0, f"--linger must be 0 or more, got {options.linger}"),
        (options.poll_interval > 0, f"--poll-interval must be positive: {options.poll_interval}"),
        (options.locust_workers >= 0, "--locust-workers must be 0 or more"),
    ]
    for ok, message in checks:
        if not ok:
            raise LoadOptionError(message)
    target = served_target(options.target)
    load_config(target, options.bugs)
    planned = plan(parse(options.nemesis), options.duration)
    check_faults(target, planned)
    return planned


@dataclass
class LoadResult:
    history: History
    verdict: Verdict
    nemesis: NemesisStats
    #: the exit code of the Locust process that judged its own recording (the local or master)
    locust_exit: int | None
    out: Path
    planned: list[PlannedFault] = field(default_factory=list)
    #: Locust processes whose records have no end (a worker that died: its last batch is lost)
    unfinished: int = 0


def reproduce_command(options: LoadOptions) -> str:
    parts = ["scanchaos", "load", "--users", str(options.users)]
    if options.target is not None:
        parts += ["--target", str(options.target)]
    parts += ["--spawn-rate", f"{options.spawn_rate:g}", "--duration", f"{options.duration:g}"]
    parts += ["--workers", str(options.workers)]
    for bug in options.bugs:
        parts += ["--bug", bug]
    parts += ["--nemesis", options.nemesis or "none", "--seed", str(options.seed)]
    if options.locust_workers:
        parts += ["--locust-workers", str(options.locust_workers)]
    return shlex.join(parts)


def locust_commands(options: LoadOptions, host: str, port: int) -> list[list[str]]:
    """The Locust processes to start: one, or a master then its workers (all on loopback)."""
    out = options.out
    common = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    main = [
        *common,
        "--headless",
        "--host",
        host,
        "-u",
        str(options.users),
        "-r",
        f"{options.spawn_rate:g}",
        "-t",
        f"{options.duration:g}s",
        "--stop-timeout",
        f"{STOP_TIMEOUT:g}",
        "--csv",
        str(out / "locust"),
        "--html",
        str(out / "locust.html"),
        "--only-summary",
        "--history-dir",
        str(out / "raw"),
        "--scanners",
        str(options.scanners),
        "--linger",
        f"{options.linger:g}",
        "--poll-interval",
        f"{options.poll_interval:g}",
    ]
    if options.target is not None:
        main += ["--target", str(options.target)]
    if not options.locust_workers:
        return [main]
    main += [
        "--master",
        "--master-bind-host",
        "127.0.0.1",
        "--master-bind-port",
        str(port),
        "--expect-workers",
        str(options.locust_workers),
    ]
    worker = [*common, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
    return [main] + [worker] * options.locust_workers


class _Processes:
    """The Locust processes, each in its own session, stopped on the way out whatever happens.

    Distributed, the master starts first on a free port; if it exits before it listens there
    (another process took the port meanwhile), it starts again on another one, and its workers
    start only once it listens. Each worker runs in a private temporary folder, as on a host of
    its own: its records reach the master over Locust's messaging, not through a shared folder.
    """

    def __init__(self, options: LoadOptions, host: str, log: Path) -> None:
        self._log = log.open("ab")
        self.procs: list[subprocess.Popen[bytes]] = []
        self.homes: list[Path] = []
        try:
            for attempt in range(1, PORT_ATTEMPTS + 1):
                port = free_port()
                main, *workers = locust_commands(options, host, port)
                self.procs = [self._spawn(main, "locust")]
                if not workers or wait_listening(self.main, port, MASTER_START_TIMEOUT):
                    break
                if self.main.poll() is None or attempt == PORT_ATTEMPTS:
                    raise LoadRunError(
                        f"the Locust master never listened on 127.0.0.1:{port} (see {log})"
                    )
                self.main.wait()
            for worker in workers:
                self.homes.append(Path(tempfile.mkdtemp(prefix="scanchaos-locust-worker-")))
                self.procs.append(self._spawn(worker, "locust worker", cwd=self.homes[-1]))
        except BaseException:
            self.stop()
            raise

    def _spawn(self, command: list[str], what: str, cwd: Path | None = None) -> Popen[bytes]:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if cwd is not None:
            env["PYTHONPATH"] = IMPORT_PATH
        log = self._log
        return popen(command, what=what, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd)

    @property
    def main(self) -> subprocess.Popen[bytes]:
        return self.procs[0]

    def stop(self, grace: float = 20.0) -> None:
        """SIGTERM (Locust then writes its reports), then SIGKILL after `grace` seconds."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in self.procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._log.close()
        for home in self.homes:
            shutil.rmtree(home, ignore_errors=True)


def _line(elapsed: float, options: LoadOptions, requests: int, nemesis: Nemesis | None) -> str:
    faults = f" | faults: {nemesis.stats}" if nemesis is not None else ""
    return (
        f"\r[load {min(elapsed, options.duration):5.1f}/{options.duration:g} s] "
        f"{requests:,} requests{faults}   "
    )


def run_load(
    options: LoadOptions,
    *,
    progress: Callable[[str], None] = lambda text: None,
) -> LoadResult:
    """Run the load test; the cluster, Locust and the nemesis are stopped whatever happens."""
    planned = validate(options)
    out = options.out
    raw = out / "raw"
    clear_folder(raw)
    raw.mkdir(parents=True, exist_ok=True)
    target = served_target(options.target)
    config = load_config(target, options.bugs, options.scale)
    # A failover or a lag needs a primary, a replica and Sentinels, and a service that waits
    # for the replica's acknowledgement of what it must not lose (as a scenario with them).
    replicated = any(fault.action in REPLICATION for fault in planned)
    if replicated:
        config = replace(config, redis=replace(config.redis, replica_acks=1))
    with LiveCluster(
        workers=options.workers,
        config=config,
        scale=options.scale,
        redis_server=options.redis_server,
        workdir=out / "cluster",
        replicated=replicated,
        target=target,
        regressions=options.bugs,
    ) as cluster:
        write_run_header(raw, _info(options, config, duration=0.0))
        nemesis = Nemesis(planned, cluster, raw, seed=options.seed)
        counter = RecordCounter(raw)
        procs = _Processes(options, cluster.base_url, out / "locust.log")
        try:
            began = time.monotonic()
            hard_stop = began + options.duration + LOCUST_GRACE
            # The schedule counts from the first request, not from Locust's start-up.
            while counter.requests() == 0 and procs.main.poll() is None:
                if time.monotonic() > hard_stop:
                    break
                progress(_line(0.0, options, 0, None))
                _wait(procs.main, 0.2)
            began = time.monotonic()
            nemesis.start()
            while procs.main.poll() is None and time.monotonic() < hard_stop:
                elapsed = time.monotonic() - began
                progress(_line(elapsed, options, counter.requests(), nemesis))
                _wait(procs.main, 1.0)
            progress(_line(time.monotonic() - began, options, counter.requests(), nemesis) + "\n")
        finally:
            nemesis.stop()
            procs.stop()
        locust_exit = procs.main.returncode
        run = read_folder(raw)
        if not run.ops or locust_exit not in (0, 1):
            raise LoadRunError(
                f"Locust exited with code {locust_exit} after recording {len(run.ops)} "
                f"requests: no verdict (see {out / 'locust.log'})"
            )
        end = max((o.end for o in run.ops), default=time.time())
        info = _info(options, config, duration=cluster.clock.from_wall(end))
        history = with_measured_slack(merge(run, info, cluster.clock.from_wall), options.scale)
    verdict = Checker().check(history)
    unfinished = run.files - run.finished
    return LoadResult(history, verdict, nemesis.stats, locust_exit, out, planned, unfinished)


def _info(options: LoadOptions, config: ServiceConfig, *, duration: float) -> RunInfo:
    return RunInfo(
        scenario="load",
        mode="load",
        seed=options.seed,
        bugs=tuple(sorted(options.bugs)),
        workers=options.workers,
        duration=duration,
        timing=Timing.of(config, slack=load_slack(options.scale)),
        command=reproduce_command(options),
    )


def _wait(proc: subprocess.Popen[bytes], seconds: float) -> None:
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(seconds)


def false_404s(history: History, verdict: Verdict) -> int:
    """Reads answered 404 for a finished scan whose result should still have been reachable."""
    ctx = Context(history)
    timing = history.info.timing
    count = 0
    for scan_id in {
        v.scan_id for v in verdict.violations if v.invariant == "reachable-until-expiry"
    }:
        facts = ctx.scans.get(scan_id or "")
        done = facts.completion() if facts else None
        if facts is None or done is None:
            continue
        horizon = done + timing.result_ttl - timing.slack
        count += sum(
            1
            for op in facts.owner_reads()
            if op.reply.status == "not_found"
            and done + timing.slack < op.start
            and op.end < horizon
        )
    return count


def summary(result: LoadResult) -> str:
    """What the load run adds to the run summary: traffic, faults, Locust's own verdict."""
    history = result.history
    ops = history.ops
    by_kind = {kind: sum(1 for o in ops if o.op == kind) for kind in ("start", "status", "latest")}
    scans = {o.scan_id for o in ops if o.op == "start" and o.scan_id}
    terminal = {o.scan_id for o in ops if o.reply.terminal and o.scan_id}
    lines = [
        f"load: {by_kind['status']:,} polls, {by_kind['latest']:,} latest reads, "
        f"{by_kind['start']:,} scans started ({len(scans & terminal)} seen terminal)",
        f"nemesis: {result.nemesis} as planned ({len(result.planned)} faults planned)",
    ]
    for error in result.nemesis.errors:
        lines.append(f"nemesis error: {error}")
    if not result.verdict.passed:
        lines.append(
            f"false 404s (finished results answered not_found before their TTL): "
            f"{false_404s(history, result.verdict):,}"
        )
    if result.unfinished:
        lines.append(f"Locust processes whose records end early: {result.unfinished} (locust.log)")
    lines.append(f"locust's own verdict (exit code): {result.locust_exit}")
    return "\n".join(lines)
