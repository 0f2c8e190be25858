"""Installed use: the built wheel (not an editable install) in a new virtual environment gives a
`scanchaos` that works from an empty folder, with a project's own scenario beside the built-in
ones.

Slow (the wheel's dependencies are installed once, then every gate runs in full), so it is one
test, marked `wheel`: deselect it with `-m "not wheel"`. The environment is kept in pytest's
cache, keyed by the dependency list, and the freshly built wheel is reinstalled into it on
every run.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_NOT_SHIPPED = (
    ".git",
    ".venv",
    ".tox",
    "build",
    "dist",
    "runs",
    "*.egg-info",
    ".*_cache",
    "__pycache__",
)

MY_SCENARIO = """\
from harness.scenario import Poll, RestartWorker, Scenario, Start

SCENARIO = Scenario(
    name="my-scenario",
    description="a project's own check: a scan survives the restart of the other workers",
    duration=120.0,
    steps=(
        Start(at=0.0, user="alice", scan="s1"),
        Poll(scan="s1", start=1.0, until=120.0, every=1.0, fanout=2),
    ),
    faults=(RestartWorker(at=40.0, worker=1), RestartWorker(at=41.0, worker=2)),
)
"""


def _run(args: list[str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    # No PYTHONPATH and a folder outside the clone: only the installed package can be imported.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _venv(cache: Path) -> Path:
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    key = hashlib.sha256("\n".join([sys.version, *dependencies]).encode()).hexdigest()[:12]
    venv = cache / f"venv-{key}"
    if not (venv / "bin" / "python").is_file():
        made = _run([sys.executable, "-m", "venv", str(venv)], cache)
        assert made.returncode == 0, made.stderr
    return venv


@pytest.mark.wheel
@pytest.mark.timeout(1500)
def test_the_installed_wheel_gates_from_an_empty_folder(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    # From a clean copy: setuptools reuses an in-tree build/ folder, which can hold stale modules.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*_NOT_SHIPPED))
    dist = tmp_path / "dist"
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
        tmp_path,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = dist.glob("scan_resilience-*.whl")
    venv = _venv(request.config.cache.mkdir("scanchaos-wheel"))
    # dependencies once per environment; the project itself afresh from the new wheel
    installed = _run([str(venv / "bin" / "pip"), "install", "-q", str(wheel)], tmp_path, 900)
    assert installed.returncode == 0, installed.stderr
    again = [str(venv / "bin" / "pip"), "install", "-q", "--force-reinstall", "--no-deps"]
    reinstalled = _run([*again, str(wheel)], tmp_path)
    assert reinstalled.returncode == 0, reinstalled.stderr

    empty = tmp_path / "empty"
    empty.mkdir()
    where = _run(
        [str(venv / "bin" / "python"), "-c", "import harness; print(harness.__file__)"], empty
    )
    assert Path(where.stdout.strip()).is_relative_to(venv), where.stdout + where.stderr
    scanchaos = str(venv / "bin" / "scanchaos")

    gate = _run([scanchaos, "gate", "--jobs", "2"], empty)
    assert gate.returncode == 0, gate.stdout[-3000:] + gate.stderr[-3000:]
    assert "GATE PASS" in gate.stdout
    (folder,) = (empty / "reports" / "runs").iterdir()
    for name in ("summary.md", "junit.xml", "gate.json", "report.html"):
        assert (folder / name).is_file(), name
    assert (folder / "post-completion-404" / "timeline.png").is_file()
    assert "[ok  ] post-completion-404 (fixed service)" in gate.stdout

    (empty / "my_scenario.py").write_text(MY_SCENARIO)
    mine = _run([scanchaos, "gate", "--scenario", "my_scenario.py", "--jobs", "2"], empty)
    assert mine.returncode == 0, mine.stdout[-3000:] + mine.stderr[-3000:]
    assert "[ok  ] my-scenario (fixed service)" in mine.stdout
    assert "[ok  ] post-completion-404 (fixed service)" in mine.stdout  # beside the built-in ones
    assert len(list((empty / "reports" / "runs").iterdir())) == 2

    # A project names its scenario folder in its pyproject.toml.
    project = tmp_path / "shop"
    (project / "resilience").mkdir(parents=True)
    (project / "resilience" / "my_scenario.py").write_text(MY_SCENARIO)
    (project / "pyproject.toml").write_text('[tool.scanchaos]\nscenarios = "resilience"\n')
    listed = _run([scanchaos, "list"], project)
    assert listed.returncode == 0, listed.stderr
    assert "project scenarios" in listed.stdout and "my-scenario" in listed.stdout
    run = _run([scanchaos, "run", "my-scenario", "--out", "out"], project)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (project / "out" / "summary.md").is_file()
