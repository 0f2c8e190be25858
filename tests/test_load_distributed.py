"""Distributed Locust without a shared folder: workers send their records to the master.

The relay's bookkeeping is tested in this process (it imports neither gevent nor locust); the
live test runs a Locust master and two workers, each in its own working folder, against
`scanchaos serve`, and judges one history made of both workers' records.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.history import History, RunInfo
from harness.live.redis_server import free_port
from harness.load.record import ServiceInfo, merge, read_folder, scenario_clock
from harness.load.relay import Inbox, Outbox, file_name
from harness.load.run import LOCUSTFILE
from reference_impl import Reply
from tests.histories import TIMING
from tests.test_load_live import Proc
from tests.waiting import wait_for

NETNS = Path(__file__).parent / "netns.py"
SERVICE = ServiceInfo(scale=0.05, timing=TIMING, epoch=1_900_000_000.0)


def polls(outbox: Outbox, count: int, at: float = 1_900_000_001.0) -> None:
    for n in range(count):
        outbox.record(
            "status",
            user="alice",
            worker="w0",
            start=at + n,
            end=at + n + 0.01,
            reply=Reply("not_found"),
            scan_id="a" * 32,
        )


def test_batches_and_done_make_the_file_a_single_process_writes(tmp_path: Path) -> None:
    outbox, inbox = Outbox(SERVICE), Inbox(tmp_path)
    polls(outbox, 3)
    first = outbox.take(now=5.0)
    assert first is not None and (first["seq"], first["ops"]) == (0, 3)
    assert outbox.take(now=5.5) is None  # nothing new: no empty batch
    polls(outbox, 2)
    second = outbox.take(now=6.0)
    assert second is not None
    for batch in (first, second):
        inbox.receive("host_ab12", batch, now=6.1)
    inbox.finish("host_ab12", outbox.close())
    assert inbox.complete and inbox.waiting(set()) == []
    raw = read_folder(tmp_path)
    assert (raw.files, raw.finished, len(raw.ops)) == (1, 1, 5)
    assert raw.service.scale == SERVICE.scale
    history = merge(raw, RunInfo("load", mode="load"), scenario_clock(1_900_000_000.0, 0.05))
    assert [op.index for op in history.ops] == [0, 1, 2, 3, 4]
    (line,) = inbox.report()
    assert line.startswith("received 5 records in 2 batches from worker host_ab12 (complete")


def test_a_batch_sent_again_keeps_its_number_and_its_requests() -> None:
    outbox = Outbox(SERVICE)
    polls(outbox, 2)
    batch = outbox.take(now=1.0)
    assert batch is not None
    outbox.put_back(batch)
    polls(outbox, 1)
    again = outbox.take(now=2.0)
    assert again is not None and (again["seq"], again["ops"]) == (0, 3)
    assert again["lines"].startswith(batch["lines"])


def test_a_missing_batch_leaves_the_file_without_its_end(tmp_path: Path) -> None:
    outbox, inbox = Outbox(SERVICE), Inbox(tmp_path)
    polls(outbox, 2)
    first = outbox.take(now=1.0)
    polls(outbox, 2)
    outbox.take(now=2.0)  # lost on the way
    assert first is not None
    inbox.receive("w", first, now=1.0)
    inbox.finish("w", outbox.close())
    raw = read_folder(tmp_path)
    assert (raw.files, raw.finished) == (1, 0)  # judged as an interrupted process's file
    assert not inbox.complete
    assert "sent 4 records in 2 batches, 2 in 1 arrived" in inbox.report()[0]


def test_the_master_waits_only_for_connected_workers_without_done(tmp_path: Path) -> None:
    inbox, outbox = Inbox(tmp_path), Outbox(SERVICE)
    polls(outbox, 1)
    batch = outbox.take(now=1.0)
    assert batch is not None
    inbox.receive("dead", batch, now=1.0)
    assert inbox.waiting({"dead", "idle"}) == ["dead", "idle"]
    inbox.finish("idle", {"ops": 0, "batches": 0})  # a worker that never had users
    # "dead" left without its done (SIGKILLed): not waited for, reported incomplete.
    assert inbox.waiting({"idle"}) == []
    inbox.close()
    assert "INCOMPLETE" in inbox.report()[0] and "no done message" in inbox.report()[0]
    assert file_name("h/x y") == "ops-h_x_y.jsonl"


WORKER_LINE = r"scanchaos: worker (\S+) sent (\d+) records in \d+ batches to the master"
RECEIVED_LINE = r"scanchaos: received (\d+) records in \d+ batches from worker (\S+) \(complete"


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    started: list[Proc] = []
    yield started
    for proc in reversed(started):
        proc.kill_tree()


def serve(procs: list[Proc], tmp_path: Path, redis: str, bug: str | None) -> str:
    """`scanchaos serve` (4 Gunicorn workers, real redis-server); its URL."""
    bugs = ["--bug", bug] if bug else []
    (tmp_path / "serve").mkdir()
    command = [sys.executable, "-m", "harness", "serve", *bugs, "--workers", "4"]
    proc = Proc([*command, "--redis-server", redis], tmp_path / "serve")
    procs.append(proc)
    url = re.search(r"http://127\.0\.0\.1:\d+", proc.read_until(r"^serving ", 60.0))
    assert url is not None
    return url[0]


def distributed(
    procs: list[Proc],
    tmp_path: Path,
    url: str,
    seconds: int,
    port: int | None = None,
    inside: list[str] | None = None,
) -> tuple[Proc, list[Proc], list[Path]]:
    """A Locust master and two workers (each started by the `inside` command, if any), each in a
    folder of its own; the master keeps its history in `history`, relative to its folder (a
    worker that wrote one would leave it in its own folder)."""
    port = port or free_port()
    homes = [tmp_path / name for name in ("master", "worker-1", "worker-2")]
    for home in homes:
        home.mkdir()
    locust = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    bind = ["--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)]
    run = ["--headless", "-u", "6", "-r", "6", "-t", f"{seconds}s", "--history-dir", "history"]
    master = Proc(
        [*locust, "--master", *bind, "--expect-workers", "2", "--host", url, *run], homes[0]
    )
    connect = ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
    workers = [Proc([*(inside or []), *locust, *connect], home) for home in homes[1:]]
    procs += [master, *workers]
    return master, workers, homes


@pytest.mark.live
@pytest.mark.parametrize("bug", [None, "cleanup-ignores-redis"])
def test_master_and_two_workers_in_separate_folders_give_one_verdict(
    procs: list[Proc], tmp_path: Path, redis_server_binary: str, bug: str | None
) -> None:
    url = serve(procs, tmp_path, redis_server_binary, bug)
    master, workers, homes = distributed(procs, tmp_path, url, 8)
    assert master.finish(150.0) == (1 if bug else 0), master.text
    verdict = one_verdict(master, workers, homes)
    if bug is None:
        assert verdict["passed"] is True
    else:
        assert "reachable-until-expiry" in {v["invariant"] for v in verdict["violations"]}


def one_verdict(
    master: Proc, workers: list[Proc], homes: list[Path], direct: bool = True
) -> dict[str, Any]:
    """The master's verdict, once it is shown to cover every record of both workers (`direct`:
    each worker's process is the Locust worker itself, not a process starting it)."""
    for worker in workers:
        assert worker.finish(60.0) == 0, worker.text
    sent = {}
    for worker in workers:
        (found,) = re.findall(WORKER_LINE, worker.text)
        sent[found[0]] = int(found[1])
    received = {who: int(n) for n, who in re.findall(RECEIVED_LINE, master.text)}
    assert received == sent and len(sent) == 2 and all(n > 0 for n in sent.values())
    # The master runs no users: the history is the workers' records, every one of them.
    folder = homes[0] / "history"
    history = History.read(folder / "history.jsonl")
    assert len(history.ops) == sum(sent.values())
    raw = read_folder(folder)
    assert raw.files == raw.finished == 2
    assert sorted(p.name for p in folder.glob("ops-*.jsonl")) == sorted(map(file_name, sent))
    # Both workers' users are in it (their user names carry their process ids).
    pids = {int(m[1]) for o in history.ops if (m := re.match(r"owner-(\d+)-", o.user))}
    assert len(pids) == 2
    if direct:
        assert pids == {worker.popen.pid for worker in workers}
    for home in homes[1:]:
        assert list(home.iterdir()) == []  # a worker writes nothing to disk
    verdict: dict[str, Any] = json.loads((folder / "verdict.json").read_text())
    return verdict


def _unshare() -> bool:
    try:
        return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0
    except FileNotFoundError:
        return False


def _netns(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/ns/net")
    except OSError:
        return ""


@pytest.mark.live
def test_workers_in_network_namespaces_of_their_own(
    procs: list[Proc], tmp_path: Path, redis_server_binary: str
) -> None:
    if not _unshare():
        pytest.skip("a network namespace of its own needs `unshare -n` (root)")
    url = serve(procs, tmp_path, redis_server_binary, None)
    http, port = int(url.rsplit(":", 1)[1]), free_port()
    # Unix socket paths are short (108 bytes): not under pytest's temporary folder.
    sockets = Path(tempfile.mkdtemp(prefix="scanchaos-ns-", dir="/tmp"))
    try:
        pairs = [(f"unix:{sockets}/master", f"tcp:{port}"), (f"unix:{sockets}/http", f"tcp:{http}")]
        host_side = Proc([sys.executable, str(NETNS), *(f"{a}={b}" for a, b in pairs)], tmp_path)
        procs.append(host_side)
        host_side.read_until(r"^forwarding", 30.0)
        inside = ["unshare", "-n", sys.executable, str(NETNS), "--lo-up"]
        inside += [f"{b}={a}" for a, b in pairs] + ["--"]
        master, workers, homes = distributed(procs, tmp_path, url, 8, port, inside)
        ours = _netns(os.getpid())
        for worker in workers:
            assert wait_for(lambda w=worker: _netns(w.popen.pid) not in ("", ours), 10.0)
        assert master.finish(150.0) == 0, master.text
        assert one_verdict(master, workers, homes, direct=False)["passed"] is True
    finally:
        shutil.rmtree(sockets, ignore_errors=True)


@pytest.mark.live
@pytest.mark.parametrize("how", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_a_worker_stopped_mid_run_is_judged_up_to_its_last_batch(
    procs: list[Proc], tmp_path: Path, redis_server_binary: str, how: signal.Signals
) -> None:
    url = serve(procs, tmp_path, redis_server_binary, None)
    master, (alive, stopped), homes = distributed(procs, tmp_path, url, 8)
    folder = homes[0] / "history"

    def both_sent() -> bool:
        return sum(1 for p in folder.glob("ops-*.jsonl") if p.stat().st_size > 0) == 2

    assert wait_for(both_sent, 90.0), master.text
    stopped.popen.send_signal(how)
    assert master.finish(150.0) == 0, master.text
    assert alive.finish(60.0) == 0, alive.text
    raw = read_folder(folder)
    complete = re.findall(RECEIVED_LINE, master.text)
    if how == signal.SIGKILL:
        assert (raw.files, raw.finished, len(complete)) == (2, 1, 1)
        assert "INCOMPLETE" in master.text and "no done message" in master.text
        # Marked missing by its heartbeat, not waited for until the deadline.
        assert "gave up after" not in master.text
    else:
        # Stopped by a signal, it stops its users and sends the rest before its goodbye.
        assert stopped.finish(60.0) == 0, stopped.text
        (found,) = re.findall(WORKER_LINE, stopped.text)
        assert (found[0], found[1]) in {(who, n) for n, who in complete}
        assert (raw.files, raw.finished, len(complete)) == (2, 2, 2)
    assert History.read(folder / "history.jsonl").info.interrupted is None
