"""A project's own scenarios, beside the built-in library.

A project names its scenario folder in its `pyproject.toml` (the first one found in the current
folder or above it, as pytest and ruff find theirs):

    [tool.scanchaos]
    scenarios = "resilience/scenarios"   # relative to the pyproject.toml

Every `*.py` file in that folder (not starting with `_`) is a scenario script exporting
`SCENARIO`. The gate runs them beside the built-in scenarios, and so it does with scenario files
given on the command line (`--scenario PATH`); `--only` limits the gate to the ones named there.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.scenario import ScenarioError, available

__all__ = ["ProjectConfig", "find_pyproject", "gate_refs", "project_config", "resolve"]

_KEYS = ("scenarios",)


@dataclass(frozen=True)
class ProjectConfig:
    """What `[tool.scanchaos]` says; empty when there is no pyproject.toml or no such table."""

    pyproject: Path | None = None
    #: the project's scenario folder, resolved against the pyproject.toml's folder
    scenarios: Path | None = None

    def scenario_files(self) -> list[Path]:
        if self.scenarios is None:
            return []
        return sorted(
            p for p in self.scenarios.glob("*.py") if p.is_file() and not p.name.startswith("_")
        )


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml in `start` or a folder above it."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def project_config(start: Path | None = None) -> ProjectConfig:
    """Read `[tool.scanchaos]` of the project around `start` (default: the current folder).

    A malformed table is refused with one line naming the file and the field.
    """
    pyproject = find_pyproject((start or Path.cwd()).resolve())
    if pyproject is None:
        return ProjectConfig()
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ScenarioError(f"{pyproject}: cannot be read as TOML: {error}") from None
    table = data.get("tool", {}).get("scanchaos")
    if table is None:
        return ProjectConfig(pyproject)
    if not isinstance(table, dict):
        raise ScenarioError(f"{pyproject}: tool.scanchaos: must be a table")
    for key in table:
        if key not in _KEYS:
            raise ScenarioError(
                f"{pyproject}: tool.scanchaos.{key}: unknown setting; known: {', '.join(_KEYS)}"
            )
    folder = table.get("scenarios")
    if folder is None:
        return ProjectConfig(pyproject)
    if not isinstance(folder, str) or not folder:
        raise ScenarioError(
            f"{pyproject}: tool.scanchaos.scenarios: must be a folder path as a string, "
            f"got {folder!r}"
        )
    path = pyproject.parent / folder
    if not path.is_dir():
        raise ScenarioError(f"{pyproject}: tool.scanchaos.scenarios: no such folder: {path}")
    return ProjectConfig(pyproject, path)


def resolve(ref: str, config: ProjectConfig | None = None) -> str:
    """A scenario reference as `harness.scenario.load` takes it: a project scenario's name
    (its file name with dashes, e.g. `my-check` for `my_check.py`) becomes its path."""
    if ref in available() or ref.endswith(".py") or Path(ref).exists():
        return ref
    config = config if config is not None else project_config()
    for path in config.scenario_files():
        if path.stem.replace("_", "-") == ref:
            return str(path)
    return ref


def gate_refs(
    requested: Sequence[str], *, only: bool, config: ProjectConfig | None = None
) -> list[str]:
    """What the gate runs: the built-in scenarios, the project's folder, then `requested`;
    with `only`, just `requested`. A file named twice (by the folder and a path) runs once."""
    if only:
        if not requested:
            raise ScenarioError("--only: name the scenarios to run with --scenario")
        return [resolve(ref, config) for ref in requested]
    config = config if config is not None else project_config()
    refs = list(available())
    seen: set[Path] = set()
    for path in config.scenario_files():
        seen.add(path.resolve())
        refs.append(str(path))
    for ref in requested:
        resolved = resolve(ref, config)
        if resolved in refs:
            continue
        path = Path(resolved)
        if path.is_file():
            if path.resolve() in seen:
                continue
            seen.add(path.resolve())
        refs.append(resolved)
    return refs
