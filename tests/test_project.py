"""A project's own scenarios: from `[tool.scanchaos]` in its pyproject.toml or from paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.project import gate_refs, project_config, resolve
from harness.scenario import ScenarioError, available

SCENARIO = """\
from harness.scenario import Poll, Scenario, Start

SCENARIO = Scenario(
    name="{name}",
    description="one scan polled through the balancer",
    duration=60.0,
    steps=(Start(at=0.0, user="alice", scan="s1"), Poll(scan="s1", start=1.0, until=60.0)),
)
"""


def project(root: Path, table: str = '[tool.scanchaos]\nscenarios = "resilience"\n') -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text('[project]\nname = "shop"\n\n' + table)
    folder = root / "resilience"
    folder.mkdir(exist_ok=True)
    (folder / "checkout_survives.py").write_text(SCENARIO.format(name="checkout-survives"))
    (folder / "_helpers.py").write_text("X = 1\n")
    return root


def test_the_folder_named_in_pyproject_is_found_from_a_subfolder(tmp_path: Path) -> None:
    root = project(tmp_path / "shop")
    (root / "src" / "deep").mkdir(parents=True)
    config = project_config(root / "src" / "deep")
    assert config.pyproject == (root / "pyproject.toml").resolve()
    assert config.scenario_files() == [(root / "resilience" / "checkout_survives.py").resolve()]


def test_the_gate_runs_the_project_scenarios_beside_the_built_in_ones(tmp_path: Path) -> None:
    config = project_config(project(tmp_path / "shop"))
    path = str(config.scenario_files()[0])
    extra = tmp_path / "one_more.py"
    extra.write_text(SCENARIO.format(name="one-more"))
    refs = gate_refs([str(extra), path], only=False, config=config)
    assert refs == [*available(), path, str(extra)]  # the folder's file is not run twice
    assert gate_refs(["post-completion-404"], only=False, config=config) == [*available(), path]


def test_only_limits_the_gate_to_the_named_scenarios(tmp_path: Path) -> None:
    config = project_config(project(tmp_path / "shop"))
    path = str(config.scenario_files()[0])
    assert gate_refs(["checkout-survives", "ttl-expiry"], only=True, config=config) == [
        path,
        "ttl-expiry",
    ]
    with pytest.raises(ScenarioError, match="--only: name the scenarios"):
        gate_refs([], only=True, config=config)


def test_a_project_scenario_runs_by_name(tmp_path: Path) -> None:
    config = project_config(project(tmp_path / "shop"))
    assert resolve("checkout-survives", config) == str(config.scenario_files()[0])
    assert resolve("post-completion-404", config) == "post-completion-404"


def test_without_a_table_there_are_no_project_scenarios(tmp_path: Path) -> None:
    root = project(tmp_path / "plain", table="")
    assert project_config(root).scenario_files() == []


@pytest.mark.parametrize(
    ("table", "error"),
    [
        ('[tool.scanchaos]\nscenarios = "nowhere"\n', "tool.scanchaos.scenarios: no such folder"),
        ("[tool.scanchaos]\nscenarios = 3\n", "tool.scanchaos.scenarios: must be a folder path"),
        ('[tool.scanchaos]\nscenario = "resilience"\n', "tool.scanchaos.scenario: unknown setting"),
        ('[tool.scanchaos\nscenarios = "x"\n', "cannot be read as TOML"),
    ],
)
def test_a_malformed_table_is_one_line_naming_the_file_and_field(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    table: str,
    error: str,
) -> None:
    root = project(tmp_path / "shop", table)
    monkeypatch.chdir(root)
    assert main(["gate", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"scanchaos: error: {(root / 'pyproject.toml').resolve()}: ")
    assert error in err
    assert err.count("\n") == 1
    assert not (tmp_path / "out").exists()


def test_list_shows_the_project_scenarios(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(tmp_path / "shop")
    monkeypatch.chdir(root / "resilience")
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert f"project scenarios ({(root / 'pyproject.toml').resolve()}):" in out
    assert "checkout-survives" in out and "one scan polled through the balancer" in out
