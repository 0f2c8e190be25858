"""A SIGKILLed `scanchaos run --mode live` or `scanchaos load` leaves no process of its own behind.

The harness cannot see SIGKILL coming, so nothing it does on the way out helps: the processes it
started die through the parent-death signal, and what a run without it leaves is stopped by the
next run or by `scanchaos cleanup` from the run's record. Each harness under test runs with its
own tag in the environment, its own TMPDIR and its own record folder, so "a process of theirs"
is one carrying the tag, one working inside the test's folder (redis-server rewrites its command
line and environment, not its working directory), or one seen in its process tree.

The kill counts (20 runs, 5 loads) can be lowered for a quick look with
SCANCHAOS_TEST_RUN_KILLS and SCANCHAOS_TEST_LOAD_KILLS.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from harness.history import UNFINISHED, History
from harness.live.leftovers import RECORDS_ENV
from harness.live.processes import NO_PDEATHSIG_ENV
from tests.waiting import wait_for

pytestmark = pytest.mark.live

RUN_KILLS = int(os.environ.get("SCANCHAOS_TEST_RUN_KILLS", "20"))
LOAD_KILLS = int(os.environ.get("SCANCHAOS_TEST_LOAD_KILLS", "5"))
TAG_ENV = "SCANCHAOS_TEST_TAG"
#: redis-server, the Gunicorn master and its 3 workers
CLUSTER = 5
#: with replication: a primary, a replica and three Sentinels instead of one redis-server
REPLICATED_CLUSTER = CLUSTER + 4
FAILOVER_KILLS = int(os.environ.get("SCANCHAOS_TEST_FAILOVER_KILLS", "6"))


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return "?"


class Harness:
    """One `scanchaos` process under test, and everything it was seen to start."""

    def __init__(self, root: Path, args: list[str], env: dict[str, str] | None = None) -> None:
        self.root = root
        (root / "tmp").mkdir(parents=True, exist_ok=True)
        self.tag = uuid.uuid4().hex
        self.env = {
            **os.environ,
            TAG_ENV: self.tag,
            "TMPDIR": str(root / "tmp"),
            RECORDS_ENV: str(root / "records"),
            **(env or {}),
        }
        self.stderr = root / "stderr"
        with self.stderr.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "harness", *args, "--out", str(root / "out")],
                stdout=subprocess.DEVNULL,
                stderr=err,
                env=self.env,
            )
        self.seen: dict[int, float] = {}

    def watch(self) -> list[psutil.Process]:
        """The harness's live descendants now (remembered for `leftovers`)."""
        try:
            children = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        alive = []
        for child in children:
            try:
                self.seen.setdefault(child.pid, child.create_time())
                if child.status() != psutil.STATUS_ZOMBIE:
                    alive.append(child)
            except psutil.NoSuchProcess:
                continue
        return alive

    def watch_until(
        self, condition: Callable[[list[psutil.Process]], bool], timeout: float
    ) -> bool:
        def check() -> bool:
            assert self.proc.poll() is None, self.stderr.read_text()
            return condition(self.watch())

        return bool(wait_for(check, timeout, 0.01))

    def kill(self) -> None:
        self.watch()
        self.proc.kill()
        self.proc.wait()

    def leftovers(self) -> list[str]:
        """Every live process of this harness, described."""
        found = []
        root = str(self.root)
        for proc in psutil.process_iter():
            if proc.pid in (os.getpid(), self.proc.pid):
                continue
            try:
                if proc.status() == psutil.STATUS_ZOMBIE:
                    continue
                ours = (
                    self.seen.get(proc.pid) == proc.create_time()
                    or proc.environ().get(TAG_ENV) == self.tag
                    or proc.cwd().startswith(root)
                )
            except psutil.Error:
                continue
            if ours:
                found.append(f"{proc.pid} {_cmdline(proc)}")
        return found

    def temp_folders(self) -> list[Path]:
        """The live clusters' working folders the harness made and has not removed."""
        return sorted((self.root / "tmp").glob("scanchaos-live-*"))

    def cleanup(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        for proc in psutil.process_iter():
            try:
                if proc.environ().get(TAG_ENV) == self.tag or proc.cwd().startswith(str(self.root)):
                    proc.kill()
            except psutil.Error:
                continue


def _has(name: str, count: int = 1) -> Callable[[list[psutil.Process]], bool]:
    return lambda procs: sum(name in _cmdline(p) for p in procs) >= count


def _never(_: list[psutil.Process]) -> bool:
    return False


def _kill_at_random_and_check(
    root: Path, args: list[str], up: Callable[[list[psutil.Process]], bool], seed: int
) -> bool:
    """One harness, SIGKILLed at a moment drawn from `seed`: soon after its first process
    appeared (while the rest start), or soon after `up` holds.

    Returns whether the kill came after `up` held. Fails if anything of the harness survives.
    """
    rng = random.Random(seed)
    harness = Harness(root, args)
    try:
        after_up = seed % 2 == 1
        ready = up if after_up else _has("", 1)
        assert harness.watch_until(ready, 90), "the harness never got its processes up"
        harness.watch_until(_never, rng.uniform(0.0, 1.5))
        harness.kill()
        assert wait_for(lambda: not harness.leftovers(), 15), (
            f"kill {seed}: left behind: {harness.leftovers()}"
        )
        if args[0] == "run" and after_up:
            _check_journal(root / "out" / "history.jsonl", args[1])
        if args[0] == "load" and after_up:
            _check_load_records(root / "out", harness.env)
        return after_up
    finally:
        harness.cleanup()


def _check_load_records(out: Path, env: dict[str, str]) -> None:
    """A load killed once Locust ran leaves records that `scanchaos check` merges into a
    history saying the run was interrupted (no requests yet: a verdict of unknown, exit 2)."""
    assert not (out / "history.jsonl").exists()
    check = subprocess.run(
        [sys.executable, "-m", "harness", "check", str(out)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode in (0, 1, 2), check.stderr
    assert "the load run stopped before its end" in check.stderr, check.stderr
    history = History.read(out / "history.jsonl")
    assert history.info.interrupted is not None
    assert history.info.interrupted.startswith("the load run stopped before its end")


def _check_journal(path: Path, scenario: str) -> None:
    """A run killed once its cluster was up leaves the history it wrote so far, readable."""
    history = History.read(path)  # raises on anything but a cut-off last line
    assert history.info.interrupted in (UNFINISHED, "the last line was cut off")
    assert history.info.scenario == scenario


def test_sigkilled_live_runs_leave_nothing(tmp_path: Path, redis_server_binary: str) -> None:
    args = ["run", "post-completion-404", "--mode", "live", "--redis-server", redis_server_binary]
    cluster_up = _has("", CLUSTER)
    landed = [
        _kill_at_random_and_check(tmp_path / f"run-{i}", args, cluster_up, seed=i)
        for i in range(RUN_KILLS)
    ]
    assert sum(landed) == RUN_KILLS // 2  # half the kills hit a cluster that was fully up


def test_sigkilled_failover_runs_leave_no_sentinel_or_redis(
    tmp_path: Path, redis_server_binary: str
) -> None:
    args = ["run", "failover-after-completion", "--mode", "live"]
    args += ["--redis-server", redis_server_binary]
    cluster_up = _has("", REPLICATED_CLUSTER)
    landed = [
        _kill_at_random_and_check(tmp_path / f"run-{i}", args, cluster_up, seed=i)
        for i in range(FAILOVER_KILLS)
    ]
    assert sum(landed) == FAILOVER_KILLS // 2


def test_sigkilled_loads_leave_nothing(tmp_path: Path, redis_server_binary: str) -> None:
    base = ["load", "--duration", "6", "--users", "4", "--workers", "2", "--scanners", "1"]
    base += ["--redis-server", redis_server_binary]
    for i in range(LOAD_KILLS):
        # Every other load runs Locust distributed: a master and a worker process.
        distributed = i % 4 >= 2
        args = base + (["--locust-workers", "1"] if distributed else [])
        up = _has("locust", 2 if distributed else 1)
        _kill_at_random_and_check(tmp_path / f"load-{i}", args, up, seed=100 + i)
    # One more with a failover nemesis: a primary, a replica and three Sentinels to leave.
    args = [*base, "--nemesis", "failover@1s+2s"]

    def replicated_load_up(procs: list[psutil.Process]) -> bool:
        return _has("sentinel", 3)(procs) and _has("locust")(procs)

    _kill_at_random_and_check(tmp_path / "load-failover", args, replicated_load_up, seed=101)


def _killed_without_deathsig(root: Path, redis_server_binary: str) -> Harness:
    args = ["run", "post-completion-404", "--mode", "live", "--redis-server", redis_server_binary]
    harness = Harness(root, args, env={NO_PDEATHSIG_ENV: "1"})
    assert harness.watch_until(_has("", CLUSTER), 90), "the cluster never came up"
    harness.kill()
    # Without the parent-death signal the whole cluster outlives the harness, and so does
    # the cluster's working folder (as it does with the signal too: only a reaper removes it).
    assert len(harness.leftovers()) == CLUSTER, harness.leftovers()
    assert len(harness.temp_folders()) == 1
    return harness


def test_cleanup_stops_what_a_run_without_deathsig_left(
    tmp_path: Path, redis_server_binary: str
) -> None:
    harness = _killed_without_deathsig(tmp_path / "killed", redis_server_binary)
    try:
        cleanup = subprocess.run(
            [sys.executable, "-m", "harness", "cleanup", str(tmp_path / "killed" / "out")],
            env=harness.env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert cleanup.returncode == 0, cleanup.stderr
        assert cleanup.stdout.startswith(
            f"the killed run of harness pid {harness.proc.pid} left things behind: "
            f"stopped {CLUSTER} process(es) ("
        ), cleanup.stdout
        assert "; removed 1 folder(s) (" in cleanup.stdout
        assert wait_for(lambda: not harness.leftovers(), 15), harness.leftovers()
        assert not harness.temp_folders()
        again = subprocess.run(
            [sys.executable, "-m", "harness", "cleanup"],
            env=harness.env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert again.returncode == 0
        assert again.stdout.startswith("no killed runs recorded"), again.stdout
    finally:
        harness.cleanup()


def test_the_next_run_stops_what_a_run_without_deathsig_left(
    tmp_path: Path, redis_server_binary: str
) -> None:
    killed = _killed_without_deathsig(tmp_path / "killed", redis_server_binary)
    args = ["run", "post-completion-404", "--mode", "live", "--redis-server", redis_server_binary]
    # The next run shares the record folder (one machine, one user), nothing else.
    nxt = Harness(tmp_path / "next", args, env={RECORDS_ENV: killed.env[RECORDS_ENV]})
    try:
        assert wait_for(lambda: not killed.leftovers(), 60), killed.leftovers()
        expected = f"left things behind: stopped {CLUSTER} process(es) ("
        assert wait_for(lambda: expected in nxt.stderr.read_text(), 30), nxt.stderr.read_text()
        assert not killed.temp_folders()
        assert nxt.proc.poll() is None, "the next run did not go on after the clean-up"
        nxt.proc.send_signal(signal.SIGTERM)
        assert nxt.proc.wait(60) == 128 + signal.SIGTERM
        assert wait_for(lambda: not nxt.leftovers(), 15), nxt.leftovers()
    finally:
        killed.cleanup()
        nxt.cleanup()
