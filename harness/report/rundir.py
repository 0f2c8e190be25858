"""Reading a run folder back: `history.jsonl` and `verdict.json`, as a CI artefact leaves them.

A run folder is what `write_run` writes. A gate folder holds one run folder per scenario (and may
hold a `gate.json`, see `harness.report.matrix`). Every malformed file is refused with one
`ReportInputError` line naming the file and the field.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from harness.checker import (
    INVARIANTS,
    JUDGEMENTS,
    Checker,
    InvariantResult,
    LostByFault,
    Verdict,
    Violation,
)
from harness.history import History, HistoryFormatError

HISTORY_FILE = "history.jsonl"
VERDICT_FILE = "verdict.json"

T = TypeVar("T")


class ReportInputError(ValueError):
    """A run folder or file that cannot be rendered; the message names the file and field."""


@dataclass
class RunRecord:
    """One run as read back from its folder (or as just produced by a runner)."""

    history: History
    verdict: Verdict
    #: the judgement calls the checker recorded with the verdict
    judgements: tuple[str, ...] = JUDGEMENTS


def _field(data: dict[str, Any], name: str, kind: Callable[[Any], T], where: str) -> T:
    if name not in data:
        raise ReportInputError(f"{where}: field {name!r} is missing")
    try:
        return kind(data[name])
    except (TypeError, ValueError):
        raise ReportInputError(f"{where}: field {name!r} has a bad value {data[name]!r}") from None


def _dict(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError("not an object")
    return value


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("not a list")
    return value


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def verdict_from_json(data: dict[str, Any], source: str) -> tuple[Verdict, tuple[str, ...]]:
    """The verdict (and its judgement calls) from the object `write_run` stores in verdict.json."""
    results = []
    invariants = _field(data, "invariants", _dict, source)
    # verdict.json sorts its keys; show them in the checker's order, as a fresh run does
    order = {name: i for i, name in enumerate(INVARIANTS)}
    for name in sorted(invariants, key=lambda n: (order.get(n, len(order)), n)):
        where = f"{source}: invariants.{name}"
        entry = _field(invariants, name, _dict, f"{source}: invariants")
        results.append(
            InvariantResult(
                name,
                _field(entry, "checked", bool, where),
                _field(entry, "violations", int, where),
            )
        )
    violations = []
    for i, item in enumerate(_field(data, "violations", _list, source)):
        where = f"{source}: violations[{i}]"
        if not isinstance(item, dict):
            raise ReportInputError(f"{where}: must be an object")
        violations.append(
            Violation(
                invariant=_field(item, "invariant", str, where),
                message=_field(item, "message", str, where),
                at=_field(item, "at", float, where),
                scan_id=item.get("scan_id"),
                evidence=tuple(int(e) for e in _field(item, "evidence", _list, where)),
                count=int(item.get("count", 1)),
                after_completion=_optional_float(item.get("after_completion")),
            )
        )
    lost = []
    for i, item in enumerate(data.get("lost_by_fault", [])):
        where = f"{source}: lost_by_fault[{i}]"
        if not isinstance(item, dict):
            raise ReportInputError(f"{where}: must be an object")
        lost.append(
            LostByFault(
                _field(item, "scan_id", str, where),
                _field(item, "completed", float, where),
                _field(item, "why", str, where),
            )
        )
    judgements = tuple(str(j) for j in data.get("judgements", JUDGEMENTS))
    return Verdict(results, violations, lost), judgements


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from `path`, or one clear error naming the file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ReportInputError(f"{path}: no such file") from None
    except json.JSONDecodeError as error:
        raise ReportInputError(f"{path}:{error.lineno}: not JSON ({error.msg})") from None
    if not isinstance(data, dict):
        raise ReportInputError(f"{path}: must hold a JSON object")
    return data


def read_run(folder: Path) -> RunRecord:
    """The run recorded in `folder` (its `history.jsonl` and `verdict.json`).

    A run killed before its end wrote no verdict: its history is judged here, as far as it goes.
    """
    history_path = folder / HISTORY_FILE
    if not history_path.is_file():
        raise ReportInputError(f"{history_path}: no such file")
    try:
        history = History.read(history_path)
    except HistoryFormatError as error:
        raise ReportInputError(str(error)) from None
    verdict_path = folder / VERDICT_FILE
    if history.info.interrupted is not None and not verdict_path.exists():
        return RunRecord(history, Checker().check(history))
    verdict, judgements = verdict_from_json(read_json(verdict_path), str(verdict_path))
    return RunRecord(history, verdict, judgements)


def merge_interrupted_load(folder: Path) -> History | None:
    """Write the `history.jsonl` of the load run in `folder` that was killed before it merged
    its Locust processes' records, from those records; None when `folder` holds no such run
    (or already has its history)."""
    from harness.load.record import LoadRecordError, interrupted_history

    if (folder / HISTORY_FILE).exists():
        return None
    try:
        history = interrupted_history(folder)
    except (LoadRecordError, HistoryFormatError) as error:
        raise ReportInputError(str(error)) from None
    if history is not None:
        history.write(folder / HISTORY_FILE)
    return history


def run_folders(folder: Path) -> list[Path]:
    """`folder` itself if it is a run folder, else its run subfolders (a gate folder), sorted."""
    if folder.is_dir():
        merge_interrupted_load(folder)
    if (folder / HISTORY_FILE).is_file():
        return [folder]
    if not folder.is_dir():
        raise ReportInputError(f"{folder}: no such folder")
    found = sorted(p for p in folder.iterdir() if (p / HISTORY_FILE).is_file())
    if not found:
        raise ReportInputError(f"{folder}: no {HISTORY_FILE} here or in any subfolder")
    return found
