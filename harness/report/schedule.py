"""The explorer's shrunk schedule, shown in a report when the run folder holds one.

The explorer leaves its minimal failing schedule in the run folder. The report reads, in order:

- `schedule.json`: `{"script": "shrunk.py", "command": "scanchaos run shrunk.py --bug ...",
  "seed": 3, "steps": ["at 0.0 s: alice starts s1 on worker 0", ...]}` (every field optional);
  the script named there, when present, is shown too;
- otherwise the first `*.py` scenario script in the folder, shown as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.report.rundir import ReportInputError, read_json

SCHEDULE_FILE = "schedule.json"


@dataclass(frozen=True)
class ShrunkSchedule:
    """A minimal failing schedule: its steps in words and the scenario script that replays it."""

    steps: tuple[str, ...] = ()
    script_name: str | None = None
    script: str | None = None
    command: str | None = None
    seed: int | None = None


def read_schedule(folder: Path) -> ShrunkSchedule | None:
    """The shrunk schedule recorded in `folder`, or None when there is none."""
    path = folder / SCHEDULE_FILE
    if path.is_file():
        data = read_json(path)
        steps = data.get("steps", [])
        if not isinstance(steps, list):
            raise ReportInputError(f"{path}: field 'steps' must be a list of strings")
        name = data.get("script")
        if name is not None and not isinstance(name, str):
            raise ReportInputError(f"{path}: field 'script' must be a file name")
        seed = data.get("seed")
        if seed is not None and not isinstance(seed, int):
            raise ReportInputError(f"{path}: field 'seed' must be an integer")
        script_path = folder / name if name else None
        return ShrunkSchedule(
            steps=tuple(str(s) for s in steps),
            script_name=name,
            script=(
                script_path.read_text(encoding="utf-8")
                if script_path and script_path.is_file()
                else None
            ),
            command=str(data["command"]) if data.get("command") else None,
            seed=seed,
        )
    scripts = sorted(folder.glob("*.py"))
    if not scripts:
        return None
    return ShrunkSchedule(script_name=scripts[0].name, script=scripts[0].read_text("utf-8"))
