"""Million-operation histories: `scanchaos check` against a plain `json.loads` of the same file.

    .venv/bin/python bench/history_scale.py [--sizes 100000,1000000,3000000] [--jobs 1,2]

Generates synthetic histories in the project's format (users starting scans one after another,
status polls every second from 3 workers, a `latest` now and then, 200 fault windows, a few
planted violations) into a temporary folder, then for each size prints: the seconds of
`scanchaos check` run as a subprocess (so that its peak memory is its own), the seconds of a
plain `json.loads` of every line of the same file (the baseline, timed just before and just
after the check, averaged), their ratio, the check's peak resident memory and that per
operation. Figures only: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec

from harness.history_format import (
    FaultRecord,
    OpRecord,
    ReplyRecord,
    RunRecord,
    Timing,
    encode_record,
)

USERS = 60
WORKERS = ("0", "1", "2")
STRATEGIES = 14
#: seconds per strategy: a scan takes about 28 s, then its owner polls a few more times
STEP = 2.0
AFTER = 6
FAULT_WINDOWS = 200
TIMING = Timing()


class _Scan:
    def __init__(self, number: int, user: str, began: float, worker: str) -> None:
        self.scan_id = f"{number:032x}"
        self.user = user
        self.began = began
        self.worker = worker
        self.finished: float | None = None
        self.polls_after = 0


def _faults(duration: float, rng: random.Random) -> list[FaultRecord]:
    """Outages of 2-6 s and worker restarts of about a second, spread over the run."""
    starts = sorted(rng.uniform(60.0, duration - 60.0) for _ in range(FAULT_WINDOWS))
    faults = []
    for index, start in enumerate(starts):
        if index % 2:
            end = start + rng.uniform(2.0, 6.0)
            faults.append(FaultRecord(index=index, start=start, end=end, fault="redis-outage"))
        else:
            end = start + rng.uniform(0.5, 1.5)
            target = rng.choice(WORKERS)
            faults.append(
                FaultRecord(
                    index=index, start=start, end=end, fault="worker-restart", target=target
                )
            )
    return faults


def _records(ops: int, seed: int) -> Iterator[OpRecord | FaultRecord | RunRecord]:
    """The run header, then every record in order of start time, `ops` operations in all."""
    rng = random.Random(seed)
    # Each user makes about one request a second.
    duration = float(ops // USERS + 1)
    yield RunRecord(scenario=f"synthetic-{ops}", mode="sim", seed=seed, duration=duration)
    faults = _faults(duration, rng)
    # A handful of scans that break an invariant, chosen ahead by number.
    scans_expected = ops // (STRATEGIES * int(STEP) + AFTER + 2)
    planted = {
        n: kind
        for kind in ("vanish", "regress", "error")
        for n in rng.sample(range(10, max(11, scans_expected - 10)), 3)
    }
    users = [f"user-{u:02d}" for u in range(USERS)]
    current: dict[str, _Scan | None] = dict.fromkeys(users)
    made = 0
    scans = 0
    pending = iter(faults)
    fault = next(pending, None)
    t = 0.0
    while made < ops:
        for u, user in enumerate(users):
            if made >= ops:
                break
            start = t + u / USERS
            while fault is not None and fault.start <= start:
                yield fault
                fault = next(pending, None)
            end = start + rng.uniform(0.002, 0.03)
            worker = WORKERS[(made + u) % 3]
            scan = current[user]
            if scan is None or scan.polls_after >= AFTER:
                scan = current[user] = _Scan(scans, user, start, worker)
                scans += 1
                reply = ReplyRecord(
                    status="scanning",
                    scan_id=scan.scan_id,
                    owner=user,
                    done=0,
                    total=STRATEGIES,
                    started_at=start,
                    source="memory",
                )
                yield OpRecord(
                    index=made,
                    start=start,
                    end=end,
                    op="start",
                    user=user,
                    worker=worker,
                    reply=reply,
                    scan_id=scan.scan_id,
                )
                made += 1
                continue
            reply = _poll_reply(scan, start, worker, faults, planted.get(int(scan.scan_id, 16)))
            kind = "latest" if rng.random() < 0.02 else "status"
            yield OpRecord(
                index=made,
                start=start,
                end=end,
                op=kind,
                user=user,
                worker=worker,
                reply=reply,
                scan_id=reply.scan_id if kind == "latest" else scan.scan_id,
            )
            made += 1
        t += 1.0
    while fault is not None:
        yield fault
        fault = next(pending, None)


def _in_outage(faults: list[FaultRecord], at: float) -> bool:
    # Few windows, and the generator asks rarely enough: a scan is fine.
    return any(f.fault == "redis-outage" and f.start <= at <= f.end for f in faults)


def _poll_reply(
    scan: _Scan, at: float, worker: str, faults: list[FaultRecord], planted: str | None
) -> ReplyRecord:
    done = min(STRATEGIES, int((at - scan.began) / STEP))
    source = "memory" if worker == scan.worker else "redis"
    if source == "redis" and _in_outage(faults, at):
        return ReplyRecord(status="unavailable")
    if done >= STRATEGIES:
        if scan.finished is None:
            scan.finished = scan.began + STRATEGIES * STEP
        scan.polls_after += 1
        if planted == "vanish" and scan.polls_after == 3:
            return ReplyRecord(status="not_found")
        return ReplyRecord(
            status="complete",
            scan_id=scan.scan_id,
            owner=scan.user,
            done=STRATEGIES,
            total=STRATEGIES,
            started_at=scan.began,
            finished_at=scan.finished,
            source=source,
        )
    if planted == "regress" and done == 8:
        done = 3
    if planted == "error" and done == 5:
        return ReplyRecord(status="error", scan_id=scan.scan_id, reason="boom")
    return ReplyRecord(
        status="scanning",
        scan_id=scan.scan_id,
        owner=scan.user,
        done=done,
        total=STRATEGIES,
        started_at=scan.began,
        source=source,
    )


def generate(path: Path, ops: int, seed: int = 1) -> None:
    """Write a synthetic history of `ops` operations to `path`, as a run writes one."""
    with path.open("wb") as out:
        batch: list[bytes] = []
        for record in _records(ops, seed):
            batch.append(encode_record(_rounded(record)))
            if len(batch) >= 10_000:
                out.write(b"\n".join(batch) + b"\n")
                batch.clear()
        if batch:
            out.write(b"\n".join(batch) + b"\n")


def _rounded(record: OpRecord | FaultRecord | RunRecord) -> OpRecord | FaultRecord | RunRecord:
    """Times to the microsecond, as `History` writes them."""
    if isinstance(record, RunRecord):
        return record
    rounded = msgspec.structs.replace(
        record, start=round(record.start, 6), end=round(record.end, 6)
    )
    if isinstance(rounded, OpRecord):
        reply = rounded.reply
        if reply.started_at is not None or reply.finished_at is not None:
            reply = msgspec.structs.replace(
                reply,
                started_at=None if reply.started_at is None else round(reply.started_at, 6),
                finished_at=None if reply.finished_at is None else round(reply.finished_at, 6),
            )
            rounded = msgspec.structs.replace(rounded, reply=reply)
    return rounded


def json_loads_seconds(path: Path) -> float:
    """The baseline: a plain `json.loads` of every line, nothing kept."""
    began = time.perf_counter()
    with path.open("rb") as lines:
        for line in lines:
            json.loads(line)
    return time.perf_counter() - began


def check_seconds(path: Path, jobs: int) -> tuple[float, float, int]:
    """Wall seconds and peak resident MB of `scanchaos check` on `path`, and its exit code.

    The peak is that child's own (`wait4`), the largest of its processes with `--jobs`: the
    children's figure of `getrusage` would keep the largest check run so far."""
    command = [sys.executable, "-m", "harness", "check", str(path), "--jobs", str(jobs)]
    began = time.perf_counter()
    with tempfile.TemporaryFile() as out:
        child = subprocess.Popen(command, stdout=out, stderr=out)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - began
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode not in (0, 1):
            out.seek(0)
            raise SystemExit(f"scanchaos check failed ({child.returncode}): {out.read()[-2000:]!r}")
    return seconds, usage.ru_maxrss / 1024, child.returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,3000000")
    parser.add_argument("--jobs", default="1,2", help="the --jobs values to check with")
    parser.add_argument("--keep", type=Path, help="write the histories here and keep them")
    parser.add_argument(
        "--budget", type=float, default=900.0, help="skip a size once this many seconds are gone"
    )
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    jobs = [int(j) for j in args.jobs.split(",")]
    started = time.perf_counter()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.keep or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        print(
            f"{'operations':>10} {'MB':>5} {'jobs':>4} {'check s':>8} {'json.loads s':>12} "
            f"{'ratio':>6} {'peak MB':>8} {'KB/op':>6} {'ops/s':>9}  exit",
            flush=True,
        )
        for size in sizes:
            spent = time.perf_counter() - started
            if spent > args.budget:
                print(f"{size:>10,} skipped: {spent:.0f} s of the {args.budget:.0f} s budget gone")
                continue
            path = folder / f"history-{size}.jsonl"
            generate(path, size)
            for j in jobs:
                # The baseline on either side of the check: the load of a shared machine drifts.
                before = json_loads_seconds(path)
                seconds, peak, code = check_seconds(path, j)
                baseline = (before + json_loads_seconds(path)) / 2
                print(
                    f"{size:>10,} {path.stat().st_size / 1e6:>5.0f} {j:>4} {seconds:>8.2f} "
                    f"{baseline:>12.2f} {seconds / baseline:>6.2f} {peak:>8.0f} "
                    f"{peak * 1024 / size:>6.2f} {size / seconds:>9,.0f}  {code}",
                    flush=True,
                )
            if args.keep is None:
                path.unlink()
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
