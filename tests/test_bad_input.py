"""Bad input is refused before anything runs: one line naming the file and field, exit 2.

Scenario bounds (`harness.limits`), user ids the service would refuse, `--out` folders that
cannot be written, and `scanchaos cleanup` pointed at a folder without a record.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.cli import main
from harness.limits import Limits, operations, peak_rate
from harness.scenario import Latest, Poll, Scenario, ScenarioError, Start, load, validate
from tests.test_scenario_validation import scenario, scenario_file

EXAMPLE_HISTORY = (
    Path(__file__).parent.parent
    / "reports/examples/post-completion-404-cleanup-ignores-redis/history.jsonl"
)

BOUNDS = [
    (
        "a day is the longest",
        scenario(duration="1e12"),
        "duration: 1e+12 s is too long (limit 86400; raise it with SCANCHAOS_MAX_DURATION)",
    ),
    (
        "polls every millisecond for an hour",
        scenario(
            duration="3600.0",
            steps='Start(at=0.0, user="a", scan="s1"), '
            'Poll(scan="s1", start=0.0, until=3600.0, every=0.001)',
        ),
        "steps: 3,600,002 operations in total is too many "
        "(limit 200000; raise it with SCANCHAOS_MAX_OPERATIONS)",
    ),
    (
        "a burst of fan-out",
        scenario(
            steps='Start(at=0.0, user="a", scan="s1"), '
            'Poll(scan="s1", start=0.0, until=10.0, every=0.1, fanout=30)',
        ),
        "steps: 300.0 requests a scenario second at the peak is too many "
        "(limit 200; raise it with SCANCHAOS_MAX_POLL_RATE)",
    ),
    (
        "too many workers",
        scenario().replace("workers=3", "workers=500"),
        "workers: 500 workers is too many (limit 32; raise it with SCANCHAOS_MAX_WORKERS)",
    ),
    (
        "a user the service refuses",
        scenario(steps='Start(at=0.0, user="a b*:", scan="s1")'),
        "steps[0].user: the service would refuse it: 'a b*:' is not a valid user id "
        "(1-64 characters, each a letter, a digit, '_', '.' or '-')",
    ),
    (
        "a poll as a user the service refuses",
        scenario(
            steps='Start(at=0.0, user="a", scan="s1"), Poll(scan="s1", start=1, until=5, user="")'
        ),
        "steps[1].user: the service would refuse it: '' is not a valid user id "
        "(1-64 characters, each a letter, a digit, '_', '.' or '-')",
    ),
]


@pytest.mark.parametrize(("body", "expected"), [c[1:] for c in BOUNDS], ids=[c[0] for c in BOUNDS])
def test_load_refuses_what_exceeds_the_bounds(tmp_path: Path, body: str, expected: str) -> None:
    path = scenario_file(tmp_path, body)
    with pytest.raises(ScenarioError) as error:
        load(str(path))
    assert str(error.value) == f"{path}: {expected}"


def test_run_refuses_a_scenario_of_1e12_seconds_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = scenario_file(tmp_path, scenario(duration="1e12"))
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1
    assert captured.err.startswith(f"scanchaos: error: {path}: duration: ")
    assert not (tmp_path / "out").exists()


def test_a_limit_is_raised_through_its_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = scenario_file(tmp_path, scenario().replace("workers=3", "workers=40"))
    with pytest.raises(ScenarioError, match="SCANCHAOS_MAX_WORKERS"):
        load(str(path))
    monkeypatch.setenv("SCANCHAOS_MAX_WORKERS", "64")
    assert load(str(path))[0].workers == 40


def test_a_bad_override_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCANCHAOS_MAX_OPERATIONS", "lots")
    path = scenario_file(tmp_path, scenario())
    with pytest.raises(ScenarioError) as error:
        load(str(path))
    assert str(error.value) == (
        f"{path}: SCANCHAOS_MAX_OPERATIONS: must be a positive number, got 'lots'"
    )


def test_limits_given_in_code_win() -> None:
    small = Scenario(
        name="small",
        description="",
        duration=10.0,
        steps=(Start(at=0.0, user="a", scan="s"), Latest(user="a", start=0.0, until=10.0)),
    )
    validate(small, "<code>")
    with pytest.raises(ScenarioError, match=r"operations in total is too many \(limit 5;"):
        validate(small, "<code>", Limits(operations=5))


def test_counts_and_peak_rate() -> None:
    steps = (
        Start(at=0.0, user="a", scan="s"),
        Poll(scan="s", start=0.0, until=10.0, every=1.0, fanout=2),  # 11 rounds, 2/s
        Poll(scan="s", start=5.0, until=10.0, every=0.5),  # 11 rounds, 2/s, overlapping
        Latest(user="a", start=10.0, until=20.0, every=0.25),  # 41 rounds, 4/s, after both
    )
    s = Scenario(name="count", description="", duration=20.0, steps=steps)
    assert operations(s) == 1 + 22 + 11 + 41
    assert peak_rate(s) == 4.0


def test_every_shipped_scenario_is_within_the_default_limits() -> None:
    from harness.scenario import available

    limits = Limits()
    for name in available():
        loaded, _ = load(name)
        assert operations(loaded) * 10 < limits.operations, name
        assert peak_rate(loaded) * 10 < limits.poll_rate, name


def _out_cases(tmp_path: Path) -> list[tuple[str, Path]]:
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder\n", encoding="utf-8")
    return [
        (f"--out {a_file}: exists and is not a folder", a_file),
        (f"--out {a_file / 'run'}: cannot create the folder: Not a directory", a_file / "run"),
    ]


@pytest.mark.parametrize(
    "command",
    [
        ["run", "post-completion-404"],
        ["run", "post-completion-404", "--mode", "live"],
        ["gate", "--scenario", "post-completion-404"],
        ["explore", "--budget", "1"],
        ["load", "--duration", "1"],
        ["check", str(EXAMPLE_HISTORY)],
    ],
    ids=["run", "run-live", "gate", "explore", "load", "check"],
)
def test_out_that_cannot_be_written_is_refused_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str]
) -> None:
    for message, out in _out_cases(tmp_path):
        assert main([*command, "--out", str(out)]) == 2
        captured = capsys.readouterr()
        assert captured.err == f"scanchaos: error: {message}\n"
        assert captured.out == ""


def test_cleanup_of_a_folder_without_a_record(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["cleanup", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"scanchaos: error: {tmp_path}: no processes.json here "
        "(only live runs and loads write one)\n"
    )


def test_cleanup_of_a_record_that_is_not_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "processes.json").write_text('{"token": 1}', encoding="utf-8")
    assert main(["cleanup", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"scanchaos: error: {tmp_path / 'processes.json'}: not a process record ('harness')\n"
    )
