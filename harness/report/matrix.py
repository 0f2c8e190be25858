"""The gate's kill matrix as data a report can render, and its file `gate.json`.

`gate.json` (in a gate folder, beside one run folder per scenario):

    {"seed": 0, "mode": "sim",
     "scenarios": ["post-completion-404", ...],
     "bugs": ["cleanup-ignores-redis", ...],
     "cells": [{"scenario": "...", "bug": "...", "caught": true, "violated": ["..."],
                "command": "scanchaos run ...",
                "simulated": ["..."], "differs": false}, ...],
     "claims": {"post-completion-404": ["cleanup-ignores-redis"], ...},
     "not_run": {"lost-write-after-outage": "why"},
     "mismatches": [{"scenario": "...", "bug": null, "sim": [], "live": ["..."]}],
     "passed": true, "escaped": [], "unmet_claims": [], "broken_baseline": []}

`simulated` and `differs` are written for a live gate's cells only (the invariants the
simulation found for the same pair; whether the live ones differ). `claims`, `not_run` and
`mismatches` are optional; the gate's own verdict fields (`passed` and after) are written by the
gate and not needed to render the matrix.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.matrix import Cell, MatrixQueries, Mismatch
from harness.report.rundir import ReportInputError, read_json

if TYPE_CHECKING:
    from harness.gate import GateResult

__all__ = ["MATRIX_FILE", "KillMatrix", "MatrixCell"]

MATRIX_FILE = "gate.json"

#: a cell as `gate.json` keeps it (no violations or witnesses: those live in the run folders)
MatrixCell = Cell


def _strs(values: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in values)


def _cell_json(cell: Cell) -> dict[str, Any]:
    data: dict[str, Any] = {
        "scenario": cell.scenario,
        "bug": cell.bug,
        "caught": cell.caught,
        "violated": list(cell.violated),
        "command": cell.command,
    }
    if cell.simulated is not None:
        data |= {"simulated": list(cell.simulated), "differs": cell.differs}
    return data


def _cell(data: dict[str, Any]) -> Cell:
    simulated = data.get("simulated")
    return Cell(
        str(data["scenario"]),
        str(data["bug"]),
        bool(data["caught"]),
        _strs(data.get("violated", ())),
        command=str(data.get("command", "")),
        simulated=None if simulated is None else _strs(simulated),
    )


@dataclass
class KillMatrix(MatrixQueries):
    """Every planted regression against every scenario: which scenarios caught which."""

    seed: int
    scenarios: tuple[str, ...]
    bugs: tuple[str, ...]
    cells: list[Cell]
    claims: dict[str, tuple[str, ...]] = field(default_factory=dict)
    not_run: dict[str, str] = field(default_factory=dict)
    mode: str = "sim"
    mismatches: list[Mismatch] = field(default_factory=list)

    @classmethod
    def from_gate(cls, result: GateResult) -> KillMatrix:
        return cls(
            seed=result.seed,
            scenarios=result.scenarios,
            bugs=result.bugs,
            cells=[replace(c, violations=(), witnesses=(), seconds=0.0) for c in result.cells],
            claims=dict(result.claims),
            not_run=dict(result.not_run),
            mode=result.mode,
            mismatches=result.mismatches,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "mode": self.mode,
            "scenarios": list(self.scenarios),
            "bugs": list(self.bugs),
            "cells": [_cell_json(c) for c in self.cells],
            "claims": {s: list(b) for s, b in self.claims.items()},
            "not_run": dict(self.not_run),
            "mismatches": [
                {"scenario": m.scenario, "bug": m.bug, "sim": list(m.sim), "live": list(m.live)}
                for m in self.mismatches
            ],
        }

    def write(self, folder: Path, *, verdict: GateResult | None = None) -> Path:
        """Write `gate.json`; with the gate's `verdict`, its pass/fail fields too."""
        data = self.to_json()
        if verdict is not None:
            data |= {
                "passed": verdict.passed,
                "escaped": verdict.escaped,
                "broken_baseline": verdict.broken_baseline,
                "unmet_claims": [list(pair) for pair in verdict.unmet_claims],
            }
        path = folder / MATRIX_FILE
        path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", "utf-8")
        return path

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str) -> KillMatrix:
        try:
            return cls(
                seed=int(data.get("seed", 0)),
                scenarios=_strs(data["scenarios"]),
                bugs=_strs(data["bugs"]),
                cells=[_cell(c) for c in data["cells"]],
                claims={str(s): _strs(bugs) for s, bugs in data.get("claims", {}).items()},
                not_run={str(b): str(why) for b, why in data.get("not_run", {}).items()},
                mode=str(data.get("mode", "sim")),
                mismatches=[
                    Mismatch(
                        str(m["scenario"]),
                        None if m.get("bug") is None else str(m["bug"]),
                        _strs(m.get("sim", ())),
                        _strs(m.get("live", ())),
                    )
                    for m in data.get("mismatches", ())
                ],
            )
        except KeyError as error:
            raise ReportInputError(f"{source}: field {error.args[0]!r} is missing") from None
        except (TypeError, ValueError, AttributeError) as error:
            raise ReportInputError(f"{source}: malformed kill matrix ({error})") from None

    @classmethod
    def read(cls, folder: Path) -> KillMatrix | None:
        """The matrix in `folder`, or None when the folder has none."""
        path = folder / MATRIX_FILE
        if not path.is_file():
            return None
        return cls.from_json(read_json(path), str(path))
