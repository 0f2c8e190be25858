"""A scenario that cannot run is refused at load time with one line naming the file and field."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from harness.checker import INVARIANTS
from harness.cli import main
from harness.scenario import ScenarioError, load
from reference_impl import BUGS

HEADER = (
    "from harness.scenario import (\n"
    "    DropColumn, Latest, Poll, RedisOutage, RestartWorker, Scenario, Start,\n"
    ")\n"
    "from reference_impl import StrategyProfile\n"
)


def scenario_file(tmp_path: Path, body: str, name: str = "bad_scenario.py") -> Path:
    path = tmp_path / name
    path.write_text(HEADER + textwrap.dedent(body), encoding="utf-8")
    return path


def scenario(
    *,
    steps: str = 'Start(at=0.0, user="alice", scan="s1"), Poll(scan="s1", start=1.0, until=60.0)',
    faults: str = "",
    extra: str = "",
    duration: str = "60.0",
) -> str:
    return (
        "SCENARIO = Scenario(\n"
        '    name="bad", description="x",\n'
        f"    duration={duration}, workers=3,\n"
        f"    steps=({steps},),\n"
        f"    faults=({faults}),\n"
        f"    {extra}\n"
        ")\n"
    )


CASES = [
    (
        "step after the end",
        scenario(steps='Start(at=0.0, user="a", scan="s1"), Start(at=75.0, user="b", scan="s2")'),
        "steps[1].at: 75.0 is after the scenario ends at 60.0",
    ),
    (
        "poll running past the end",
        scenario(steps='Start(at=0.0, user="a", scan="s1"), Poll(scan="s1", start=1, until=90.5)'),
        "steps[1].until: 90.5 is after the scenario ends at 60.0",
    ),
    (
        "fault after the end",
        scenario(faults="RestartWorker(at=61.0, worker=0),"),
        "faults[0].at: 61.0 is after the scenario ends at 60.0",
    ),
    (
        "negative scenario duration",
        scenario(duration="-5.0"),
        "duration: must be a positive number of seconds, got -5.0",
    ),
    (
        "negative outage duration",
        scenario(faults="RedisOutage(at=10.0, duration=-3.0),"),
        "faults[0].duration: must be a non-negative number, got -3.0",
    ),
    (
        "negative step time",
        scenario(steps='Start(at=-1.0, user="alice", scan="s1")'),
        "steps[0].at: must be a non-negative number, got -1.0",
    ),
    (
        "outage outlasting the scenario",
        scenario(faults="RedisOutage(at=50.0, duration=20.0),"),
        "faults[0].duration: the outage ends at 70.0, after the scenario ends at 60.0",
    ),
    (
        "unknown invariant",
        scenario(extra='invariants=("reachable",),'),
        f"invariants: unknown invariant 'reachable'; known: {', '.join(INVARIANTS)}",
    ),
    (
        "unknown regression",
        scenario(extra='catches=("cleanup-ignore-redis",),'),
        f"catches: unknown planted regression 'cleanup-ignore-redis'; known: {', '.join(BUGS)}",
    ),
    (
        "regression names given as one string",
        scenario(extra='catches=("no-user-scope"),'),
        "catches: must be a tuple of names, not a str",
    ),
    (
        "unknown fault name",
        scenario(faults='"kill-redis",'),
        "faults[0]: unknown fault 'kill-redis'; known: RestartWorker, RedisOutage, "
        "RedisFailover, ReplicaLag, DropColumn",
    ),
    (
        "a fault among the steps",
        scenario(steps='Start(at=0.0, user="a", scan="s1"), RestartWorker(at=5.0, worker=0)'),
        "steps[1]: unknown step RestartWorker; known: Start, Poll, Latest",
    ),
    (
        "unknown column",
        scenario(faults='DropColumn(at=5.0, column="sharp"),'),
        "faults[0].column: 'sharp' is not an optional column (win_rate, sharpe, annual_return)",
    ),
    (
        "restart worker index out of range",
        scenario(faults="RestartWorker(at=5.0, worker=3),"),
        "faults[0].worker: worker index 3 is out of range (the scenario has 3 workers: 0-2)",
    ),
    (
        "start worker index out of range",
        scenario(steps='Start(at=0.0, user="alice", scan="s1", worker=-1)'),
        "steps[0].worker: worker index -1 is out of range (the scenario has 3 workers: 0-2)",
    ),
    (
        "poll of a scan nobody starts",
        scenario(steps='Start(at=0.0, user="a", scan="s1"), Poll(scan="s9", start=1, until=9)'),
        "steps[1].scan: no Start step names a scan 's9'",
    ),
    (
        "restart aimed at both a worker and a scan",
        scenario(faults='RestartWorker(at=5.0, worker=1, scan="s1"),'),
        "faults[0]: give exactly one of worker=, scan= or idle=True",
    ),
    (
        "hanging strategy that does not exist",
        scenario(extra="profile=StrategyProfile(hang=frozenset({14})),"),
        "profile.hang: strategy index 14 is out of range (the scan runs 14: 0-13)",
    ),
    (
        "no invariant at all",
        scenario(extra="invariants=(),"),
        "invariants: give at least one invariant (or leave it None for all)",
    ),
]


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_load_refuses_with_file_and_field(tmp_path: Path, body: str, expected: str) -> None:
    path = scenario_file(tmp_path, body)
    with pytest.raises(ScenarioError) as error:
        load(str(path))
    assert str(error.value) == f"{path}: {expected}"


def test_the_valid_base_scenario_loads(tmp_path: Path) -> None:
    # The cases above differ from a scenario that loads only in the field they break.
    path = scenario_file(tmp_path, scenario(faults="RestartWorker(at=5.0, worker=2),"))
    loaded, source = load(str(path))
    assert loaded.name == "bad"
    assert source == str(path)


def test_module_without_scenario(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, "X = 1\n")
    with pytest.raises(ScenarioError) as error:
        load(str(path))
    assert str(error.value) == f"{path}: SCENARIO: the module exports no SCENARIO"


def test_module_that_fails_to_import(tmp_path: Path) -> None:
    path = scenario_file(tmp_path, scenario(extra="colour=1,"))
    with pytest.raises(ScenarioError) as error:
        load(str(path))
    assert str(error.value) == (
        f"{path}: failed to load: Scenario.__init__() got an unexpected keyword argument 'colour'"
    )


def test_run_refuses_with_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario_file(tmp_path, scenario(faults="RestartWorker(at=5.0, worker=7),"))
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"scanchaos: error: {path}: faults[0].worker: worker index 7 is out of range "
        "(the scenario has 3 workers: 0-2)\n"
    )
    assert captured.out == ""
    assert not (tmp_path / "out").exists()


def test_gate_refuses_to_start_on_a_bad_scenario(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = "post-completion-404"
    bad = scenario_file(tmp_path, scenario(extra='invariants=("isolation",),'))
    out = tmp_path / "out"
    assert main(["gate", "--scenario", good, "--scenario", str(bad), "--out", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(f"scanchaos: error: {bad}: invariants: unknown invariant")
    assert captured.out == ""
    assert not out.exists()


def test_gate_refuses_two_scenarios_with_one_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first = scenario_file(tmp_path, scenario(), "first.py")
    second = scenario_file(tmp_path, scenario(), "second.py")
    assert main(["gate", "--scenario", str(first), "--scenario", str(second)]) == 2
    err = capsys.readouterr().err
    assert err == f"scanchaos: error: {second}: name: scenario name 'bad' is used twice\n"


def test_unknown_regression_on_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "post-completion-404", "--bug", "no-such-bug"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("scanchaos: error: unknown planted regression 'no-such-bug'; known: ")
    assert err.count("\n") == 1


def test_unknown_scenario_name(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "no-such-scenario"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("scanchaos: error: no-such-scenario: unknown scenario; known: ")


def test_gate_refuses_a_job_count_below_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gate", "--jobs", "0"]) == 2
    assert capsys.readouterr().err == "scanchaos: error: --jobs: must be at least 1, got 0\n"
