"""Load figures: status-poll throughput and latency against the framework ceiling, and the nemesis.

Part `throughput`: a live cluster (fixed service, production durations: scale 1, strategies of
20 ms so the scans to poll are ready at once), a few finished scans, then Locust headless
(FastHttpUser, no wait) in turn on `GET /scans/{id}` (`PollUser`), on the same polls recorded
as the harness's locustfile records them (`RecordedPollUser`) and on `GET /trivial`
(`TrivialUser`), with the same Gunicorn settings in the same run. Prints requests/s, p50 and p99
for each phase, the poll/trivial ratio and the recording overhead (1 - recorded/plain), each
as the median of the per-round ratios.

Part `nemesis`: `scanchaos load` with the default nemesis on the fixed service (long enough for
20,000 polls), then the same with `--bug cleanup-ignores-redis`. Prints polls, faults, violations
and the false 404s.

    .venv/bin/python bench/load_throughput.py                 # both parts
    .venv/bin/python bench/load_throughput.py --part throughput --phase-seconds 15 --rounds 3

Locust runs as its own process; this script never imports it.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from harness.live.cluster import LiveCluster
from harness.load.run import LoadOptions, false_404s, run_load
from harness.load.spec import DEFAULT_SPEC
from harness.report import write_run
from reference_impl import ServiceConfig, StrategyProfile

BENCH_LOCUSTFILE = Path(__file__).with_name("locust_bench.py")


@dataclass
class Phase:
    user: str
    rps: float
    p50: float
    p99: float
    requests: int
    failures: int


def start_scans(base_url: str, count: int) -> list[tuple[str, str]]:
    scans = []
    for n in range(count):
        user = f"bench-{n}"
        request = urllib.request.Request(
            f"{base_url}/scans", data=b"{}", method="POST", headers={"X-User": user}
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            reply = json.loads(response.read())
        assert reply["status"] == "complete", reply
        scans.append((user, reply["scan_id"]))
    return scans


def run_phase(
    user: str, host: str, scans: list[tuple[str, str]], users: int, seconds: float, out: Path
) -> Phase:
    prefix = out / f"{user}-{len(list(out.glob(f'{user}-*_stats.csv')))}"
    command = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(BENCH_LOCUSTFILE),
        user,
        "--headless",
        "--host",
        host,
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{seconds:g}s",
        "--csv",
        str(prefix),
        "--only-summary",
        "--stop-timeout",
        "1",
    ]
    env = {
        **os.environ,
        "SCANCHAOS_BENCH_SCANS": ",".join(f"{u}:{s}" for u, s in scans),
        "SCANCHAOS_BENCH_RECORD_DIR": f"{prefix}-records",
    }
    subprocess.run(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=seconds + 120,
        check=False,
    )
    with open(f"{prefix}_stats.csv", newline="", encoding="utf-8") as handle:
        row = next(r for r in csv.DictReader(handle) if r["Name"] == "Aggregated")
    return Phase(
        user,
        float(row["Requests/s"]),
        float(row["50%"]),
        float(row["99%"]),
        int(row["Request Count"]),
        int(row["Failure Count"]),
    )


def throughput(args: argparse.Namespace) -> None:
    print(
        f"# throughput: {args.workers} Gunicorn sync workers, {args.users} FastHttpUsers "
        f"(no wait), {args.rounds} rounds of {args.phase_seconds:g} s per endpoint"
    )
    with (
        tempfile.TemporaryDirectory() as tmp,
        LiveCluster(
            workers=args.workers,
            config=ServiceConfig(),
            scale=1.0,
            profile=StrategyProfile(seconds=0.02),
        ) as cluster,
    ):
        scans = start_scans(cluster.base_url, args.scans)
        phases: list[Phase] = []
        users = ("PollUser", "RecordedPollUser", "TrivialUser")
        for n in range(args.rounds):
            # Each round in another order: no endpoint always runs first (or last).
            order = users[n % 3 :] + users[: n % 3]
            for user in order:
                phase = run_phase(
                    user, cluster.base_url, scans, args.users, args.phase_seconds, Path(tmp)
                )
                phases.append(phase)
                print(
                    f"  {user:<16} {phase.rps:8.0f} req/s  p50 {phase.p50:5.0f} ms  "
                    f"p99 {phase.p99:5.0f} ms  ({phase.requests:,} requests, "
                    f"{phase.failures} failures)",
                    flush=True,
                )

    def of(user: str) -> list[Phase]:
        return [p for p in phases if p.user == user]

    def med(values: list[float]) -> float:
        return statistics.median(values)

    for user in users:
        mine = of(user)
        print(
            f"{user:<16} median {med([p.rps for p in mine]):6.0f} req/s, "
            f"p50 {med([p.p50 for p in mine]):.0f} ms, p99 {med([p.p99 for p in mine]):.0f} ms"
        )
    # The machine may be shared: a round's phases ran back to back, so the ratios within a
    # round are the least disturbed figures; the medians of those are quoted.
    poll, recorded, trivial = of("PollUser"), of("RecordedPollUser"), of("TrivialUser")
    ratios = [p.rps / t.rps for p, t in zip(poll, trivial, strict=True)]
    costs = [1 - r.rps / p.rps for r, p in zip(recorded, poll, strict=True)]
    print(
        f"ratio poll/trivial: {med(ratios):.0%} (aim: 80% or more; per round "
        + ", ".join(f"{r:.0%}" for r in ratios)
        + ")"
    )
    print(
        f"recording overhead: {med(costs):.1%} fewer requests/s recorded than not (aim: 10% "
        "or less; per round " + ", ".join(f"{c:.1%}" for c in costs) + ")"
    )
    print(f"status poll p99 at {args.users} users: {med([p.p99 for p in poll]):.0f} ms (aim: < 20)")


def nemesis(args: argparse.Namespace) -> None:
    runs = [
        ((), args.nemesis_seconds),
        (("cleanup-ignores-redis",), args.bug_seconds),
    ]
    for bugs, seconds in runs:
        options = LoadOptions(
            users=args.load_users,
            spawn_rate=args.load_users,
            duration=seconds,
            workers=args.workers,
            bugs=bugs,
            nemesis=DEFAULT_SPEC,
            out=Path(tempfile.mkdtemp(prefix="scanchaos-bench-load-")),
        )
        from harness.load.run import reproduce_command

        print(f"# nemesis: {reproduce_command(options)}", flush=True)
        result = run_load(options)
        write_run(result.out, result.history, result.verdict)
        ops = result.history.ops
        polls = sum(1 for o in ops if o.op == "status")
        by_invariant: dict[str, int] = {}
        for v in result.verdict.violations:
            by_invariant[v.invariant] = by_invariant.get(v.invariant, 0) + 1
        print(
            f"  bugs: {', '.join(bugs) or 'none'} | {polls:,} polls, {len(ops):,} requests | "
            f"faults: {result.nemesis} | "
            f"{'PASS' if result.verdict.passed else 'FAIL'} | violations by invariant: "
            f"{by_invariant or 'none'} | false 404s: {false_404s(result.history, result.verdict):,}"
            f" | lost by fault: {len(result.verdict.lost_by_fault)} | out: {result.out}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--part", choices=("throughput", "nemesis", "all"), default="all")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--scans", type=int, default=8)
    parser.add_argument("--phase-seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--load-users", type=int, default=30)
    parser.add_argument("--nemesis-seconds", type=float, default=90.0)
    parser.add_argument("--bug-seconds", type=float, default=30.0)
    args = parser.parse_args()
    if args.part in ("throughput", "all"):
        throughput(args)
    if args.part in ("nemesis", "all"):
        nemesis(args)


if __name__ == "__main__":
    main()
