"""The short human summary printed after a run."""

from __future__ import annotations

from harness.checker import Verdict
from harness.history import History


def format_run(history: History, verdict: Verdict) -> str:
    info = history.info
    bugs = ", ".join(info.bugs) if info.bugs else "none (fixed service)"
    lines = [
        f"scenario {info.scenario} | mode {info.mode} | seed {info.seed} | bugs: {bugs}",
        f"{len(history.ops)} operations, {len(history.faults)} fault events, "
        f"{info.duration:.0f} s of scenario time",
    ]
    for result in verdict.results:
        mark = "skip" if not result.checked else "FAIL" if result.violations else "ok  "
        lines.append(f"  [{mark}] {result.name}")
    for v in verdict.violations:
        where = (
            f" (+{v.after_completion:.1f} s after completion)"
            if (v.after_completion is not None)
            else ""
        )
        lines.append(
            f"  VIOLATION {v.invariant} at {v.at:.1f} s{where}: {v.message}"
            + (f" [{v.count} operations]" if v.count > 1 else "")
        )
    for lost in verdict.lost_by_fault:
        lines.append(f"  lost by fault (not a violation): scan {lost.scan_id}: {lost.why}")
    for reason in verdict.unknown:
        lines.append(f"  cannot judge: {reason}")
    if info.interrupted:
        lines.append(f"  interrupted run: {info.interrupted}; judged up to its last record")
    lines.append(
        {
            "pass": "PASS",
            "fail": f"FAIL: {len(verdict.violations)} violation(s)",
            "unknown": "UNKNOWN: this history proves nothing (exit 2)",
        }[verdict.outcome]
    )
    if info.command:
        lines.append(f"reproduce: {info.command}")
    return "\n".join(lines)
