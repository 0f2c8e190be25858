"""What a CI job picks up from a run: JUnit XML at a path of its choosing, the job summary.

`--junit PATH` copies the run folder's `junit.xml` to PATH (CI systems look for test reports at
a fixed place, while each run gets a new folder). When `GITHUB_STEP_SUMMARY` names a file (as it
does in every GitHub Actions step), the run's summary is appended to it, so it shows on the
job's page. Pictures and links in the summary point at files beside it, which the job page does
not have: they become plain text naming the file in the uploaded report folder.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from harness.report.rundir import ReportInputError

__all__ = [
    "STEP_SUMMARY_LIMIT",
    "append_step_summary",
    "check_junit",
    "copy_junit",
    "publish",
    "step_text",
]

#: GitHub refuses a step summary over 1 MiB; stay under it with room for other steps
STEP_SUMMARY_LIMIT = 1024 * 1024 - 64 * 1024
_RELATIVE = re.compile(r"(!?)\[([^\]]*)\]\((?![a-z]+:|#)([^)\s]+)\)")


def check_junit(target: Path | None) -> None:
    """Refuse a `--junit` path that cannot take a file, before anything runs."""
    if target is None:
        return
    if target.is_dir():
        raise ReportInputError(f"--junit: {target} is a folder; give a file path, e.g. junit.xml")
    parent = next((p for p in (target.parent, *target.parent.parents) if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise ReportInputError(f"--junit: {parent} is not a folder")


def copy_junit(folder: Path, target: Path) -> Path:
    """Copy `folder/junit.xml` to `target` (its parent folders are made)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.resolve() != (folder / "junit.xml").resolve():
        shutil.copyfile(folder / "junit.xml", target)
    return target


def step_text(summary: str, folder: Path) -> str:
    """`summary` as the job page shows it: links to files beside it name the file instead.

    >>> step_text("![timeline](timeline.png)", Path("reports/runs/x"))
    '(picture: `reports/runs/x/timeline.png` in the report folder)'
    """

    def plain(match: re.Match[str]) -> str:
        image, text, target = match.groups()
        where = f"`{(folder / target).as_posix()}` in the report folder"
        return f"(picture: {where})" if image else f"{text} ({where})"

    text = _RELATIVE.sub(plain, summary)
    if len(text.encode("utf-8")) > STEP_SUMMARY_LIMIT:
        cut = text.encode("utf-8")[:STEP_SUMMARY_LIMIT].decode("utf-8", errors="ignore")
        text = cut + f"\n\n(cut: the whole summary is `{folder.as_posix()}/summary.md`)\n"
    return text


def append_step_summary(folder: Path, name: str = "summary.md") -> Path | None:
    """Append `folder/name` to the file `GITHUB_STEP_SUMMARY` names, if it names one."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    source = folder / name
    if not target or not source.is_file():
        return None
    text = source.read_text(encoding="utf-8")
    if name.endswith(".txt"):
        text = f"```\n{text.rstrip()}\n```\n"
    with open(target, "a", encoding="utf-8") as handle:
        handle.write(step_text(text, folder).rstrip("\n") + "\n\n")
    return Path(target)


def publish(folder: Path, *, junit: Path | None, summary: str | None = "summary.md") -> list[str]:
    """Hand a finished run folder to CI; returns one line per thing done, for the console."""
    said = []
    if junit is not None:
        said.append(f"wrote {copy_junit(folder, junit)}")
    if summary is not None:
        target = append_step_summary(folder, summary)
        if target is not None:
            said.append(f"appended {folder / summary} to the job summary ({target})")
    return said
