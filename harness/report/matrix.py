"""The gate's kill matrix as data a report can render, and its file `matrix.json`.

`matrix.json` (in a gate folder, beside one run folder per scenario):

    {"seed": 0,
     "scenarios": ["post-completion-404", ...],
     "bugs": ["cleanup-ignores-redis", ...],
     "cells": [{"scenario": "...", "bug": "...", "caught": true, "violated": ["..."]}, ...],
     "claims": {"post-completion-404": ["cleanup-ignores-redis"], ...}}

`claims` is optional (which planted regressions each scenario says it catches).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.report.rundir import ReportInputError, read_json

if TYPE_CHECKING:
    from harness.gate import GateResult

MATRIX_FILE = "matrix.json"


@dataclass(frozen=True)
class MatrixCell:
    scenario: str
    bug: str
    caught: bool
    violated: tuple[str, ...] = ()


@dataclass
class KillMatrix:
    """Every planted regression against every scenario: which scenarios caught which."""

    seed: int
    scenarios: tuple[str, ...]
    bugs: tuple[str, ...]
    cells: list[MatrixCell]
    claims: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_gate(cls, result: GateResult) -> KillMatrix:
        return cls(
            seed=result.seed,
            scenarios=result.scenarios,
            bugs=result.bugs,
            cells=[MatrixCell(c.scenario, c.bug, c.caught, c.violated) for c in result.cells],
            claims=dict(result.claims),
        )

    def cell(self, scenario: str, bug: str) -> MatrixCell | None:
        return next((c for c in self.cells if c.scenario == scenario and c.bug == bug), None)

    def caught_by(self, bug: str) -> list[str]:
        return [c.scenario for c in self.cells if c.bug == bug and c.caught]

    @property
    def escaped(self) -> list[str]:
        return [bug for bug in self.bugs if not self.caught_by(bug)]

    @property
    def unmet_claims(self) -> list[tuple[str, str]]:
        caught = {(c.scenario, c.bug) for c in self.cells if c.caught}
        return [(s, b) for s, bugs in self.claims.items() for b in bugs if (s, b) not in caught]

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "scenarios": list(self.scenarios),
            "bugs": list(self.bugs),
            "cells": [
                {
                    "scenario": c.scenario,
                    "bug": c.bug,
                    "caught": c.caught,
                    "violated": list(c.violated),
                }
                for c in self.cells
            ],
            "claims": {s: list(b) for s, b in self.claims.items()},
        }

    def write(self, folder: Path) -> Path:
        path = folder / MATRIX_FILE
        path.write_text(json.dumps(self.to_json(), indent=2, sort_keys=True) + "\n", "utf-8")
        return path

    @classmethod
    def from_json(cls, data: dict[str, Any], source: str) -> KillMatrix:
        try:
            cells = [
                MatrixCell(
                    str(c["scenario"]),
                    str(c["bug"]),
                    bool(c["caught"]),
                    tuple(str(v) for v in c.get("violated", ())),
                )
                for c in data["cells"]
            ]
            return cls(
                seed=int(data.get("seed", 0)),
                scenarios=tuple(str(s) for s in data["scenarios"]),
                bugs=tuple(str(b) for b in data["bugs"]),
                cells=cells,
                claims={
                    str(s): tuple(str(b) for b in bugs)
                    for s, bugs in data.get("claims", {}).items()
                },
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
