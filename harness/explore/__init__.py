"""The explorer: random fault schedules against the simulated cluster, shrunk to a script.

>>> from harness.explore import explore
>>> result = explore(("no-user-scope",), budget=30.0, seed=0)  # doctest: +SKIP
>>> result.findings[0].length  # doctest: +SKIP
2
"""

from __future__ import annotations

from pathlib import Path

from harness.explore.coverage import PATHS, Coverage
from harness.explore.engine import ExploreResult, Finding, explore, explore_job, run_schedule
from harness.explore.placement import to_scenario
from harness.explore.report import Written, explore_command, format_summary, write_finding
from harness.explore.schedule import Schedule, Setup, schedules

__all__ = [
    "PATHS",
    "Coverage",
    "ExploreResult",
    "Finding",
    "Schedule",
    "Setup",
    "Written",
    "explore",
    "explore_job",
    "run_explore",
    "run_schedule",
    "schedules",
    "to_scenario",
]


def run_explore(
    bugs: tuple[str, ...], budget: float, seed: int, jobs: int, out: Path | None
) -> bool:
    """The `scanchaos explore` command: explore, write scripts and summary; True on a finding."""
    from harness.report import default_out_dir

    command = explore_command(bugs, seed, budget, jobs)
    result = explore(bugs, budget=budget, seed=seed, jobs=jobs)
    folder = out or default_out_dir("explore-" + ("-".join(bugs) or "fixed"))
    folder.mkdir(parents=True, exist_ok=True)
    written = [write_finding(f, bugs, folder, command) for f in result.findings]
    summary = format_summary(result, written, command)
    if written:
        from harness.report.embed import markdown_image, report_link

        summary += "\n## Timelines of the replayed findings\n\n"
        for w in written:
            run = w.path.stem.replace("_", "-")
            summary += f"{markdown_image(f'{run}/timeline.png', run)}\n\n"
            summary += f"{report_link(f'{run}/report.html')}\n\n"
    (folder / "summary.md").write_text(summary, encoding="utf-8")
    if written:
        from harness.report.html import render_folder

        # Each finding's replay gets its timeline and report; report.html here shows them all.
        render_folder(folder, title="Scan resilience exploration")
    print(summary)
    print(f"wrote {folder}/summary.md" + "".join(f" and {w.path}" for w in written))
    return bool(result.findings)
