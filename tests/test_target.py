"""Target files: the reference through the generic path, another in-process target, and every
malformed file refused with one line naming the file and the field (exit 2)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.cli import main
from harness.gate import format_matrix, run_gate
from harness.runner import simulate
from harness.scenario import load
from harness.target import load_target, reference_target
from reference_impl import BUGS
from tests.cli_runs import CliRun, run_cli

ROOT = Path(__file__).parent.parent
RENAMED = ROOT / "tests/targets/renamed.toml"

DURATIONS = """
[durations]
result_ttl = 300.0
memory_ttl = 10.0
cleanup_interval = 2.0
scan_budget = 150.0
worker_timeout = 180.0
heartbeat_interval = 5.0
stall_timeout = 30.0
"""
SERVICE = 'name = "t"\n[service]\nfactory = "reference_impl.target:build"\n' + DURATIONS
HTTP = """
[http]
runs_to_end = true
start = { method = "POST", path = "/scans" }
status = { path = "/scans/{scan_id}" }
latest = { path = "/scans/latest" }
user = { header = "X-User" }
body = { status = "state", scan_id = "id" }
statuses = { running = "scanning", done = "complete" }
"""
WSGI = (
    'name = "w"\n[wsgi]\napp = "tests.targets.renamed:build"\nredis_url_env = "REDIS_URL"\n'
    + DURATIONS
    + HTTP
)


def _check(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    path = tmp_path / "target.toml"
    path.write_text(text)
    code = main(["target", "check", str(path)])
    return code, capsys.readouterr().err


MALFORMED = [
    ("not TOML", 'name = "t"\n[service\n', "not valid TOML"),
    ("no name", SERVICE.replace('name = "t"\n', ""), "field name: missing"),
    ("unknown field", 'colour = "red"\n' + SERVICE, "field colour: unknown field"),
    ("workers as text", 'workers = "three"\n' + SERVICE, "field workers: Expected `int`"),
    ("no workers", "workers = 0\n" + SERVICE, "field workers: must be between 1 and 32"),
    (
        "neither kind",
        SERVICE.replace('[service]\nfactory = "reference_impl.target:build"\n', ""),
        "give exactly one of [service] and [wsgi], not neither",
    ),
    (
        "both kinds",
        SERVICE + '[wsgi]\napp = "a:b"\nredis_url_env = "R"\n',
        "give exactly one of [service] and [wsgi], not both",
    ),
    (
        "factory without colon",
        SERVICE.replace("reference_impl.target:build", "build"),
        "field service.factory: 'build' is not `module:function`",
    ),
    (
        "factory not importable",
        SERVICE.replace("reference_impl.target", "no_such_module"),
        "field service.factory: cannot import 'no_such_module'",
    ),
    (
        "factory not a function",
        SERVICE.replace(":build", ":nothing"),
        "field service.factory: reference_impl.target has no function 'nothing'",
    ),
    (
        "negative duration",
        SERVICE.replace("result_ttl = 300.0", "result_ttl = -1.0"),
        "field durations.result_ttl: must be a positive number of seconds",
    ),
    (
        "missing duration",
        SERVICE.replace("stall_timeout = 30.0\n", ""),
        "field durations.stall_timeout: missing",
    ),
    (
        "duration as text",
        SERVICE.replace("scan_budget = 150.0", 'scan_budget = "150 s"'),
        "field durations.scan_budget: Expected `float`, got `str`",
    ),
    (
        "env for an unknown duration",
        WSGI + '[durations.env]\nttl = "TTL"\n',
        "field durations.env.ttl: not a duration",
    ),
    ("wsgi without http", WSGI.split("[http]")[0], "field http: a [wsgi] target needs [http]"),
    (
        "wsgi app not found",
        WSGI.replace("tests.targets.renamed:build", "nowhere.app:app"),
        "field wsgi.app: no module 'nowhere.app'",
    ),
    (
        "wsgi app asked to follow a failover",
        WSGI + "[faults]\nreplication = true\n",
        "field faults.replication: a [wsgi] app is handed one Redis URL",
    ),
    (
        "database_init not found",
        WSGI.replace("redis_url_env = ", 'database_init = "nowhere.db:init"\nredis_url_env = '),
        "field wsgi.database_init: no module 'nowhere.db'",
    ),
    (
        "status path without the id",
        WSGI.replace("/scans/{scan_id}", "/scans/one"),
        "field http.status.path: must hold {scan_id}",
    ),
    (
        "unknown placeholder",
        WSGI.replace("/scans/latest", "/scans/{tenant}/latest"),
        "field http.latest.path: unknown placeholder {tenant}",
    ),
    (
        "no user identity",
        WSGI.replace('{ header = "X-User" }', "{ }"),
        "field http.user: give exactly one of header, cookie and bearer = true",
    ),
    (
        "status word mapped to nothing known",
        WSGI.replace('done = "complete"', 'done = "ok"'),
        "field http.statuses.done: 'ok' is not one of scanning, complete",
    ),
    (
        "no word for complete",
        WSGI.replace('done = "complete"', 'done = "failed"'),
        "field http.statuses: no status word maps to 'complete'",
    ),
    (
        "HTTP code that is no code",
        WSGI + '[http.codes]\n"4o4" = "not_found"\n',
        "field http.codes.4o4: not an HTTP status code",
    ),
    (
        "drop an unknown column",
        SERVICE + '[faults]\ndrop_column = ["colour"]\n',
        "field faults.drop_column[0]: 'colour' is not an optional column",
    ),
    (
        "drop a column without a database",
        WSGI + '[faults]\ndrop_column = ["sharpe"]\n',
        "field faults.drop_column: dropping a column needs wsgi.database_url_env",
    ),
    (
        "regression twice",
        SERVICE + '[[regression]]\nname = "a"\n[[regression]]\nname = "a"\n',
        "field regression[1].name: 'a' is listed twice",
    ),
    (
        "regression caught by no such scenario",
        SERVICE + '[[regression]]\nname = "a"\ncaught_by = ["nope"]\n',
        "field regression[0].caught_by[0]: no scenario 'nope'",
    ),
    (
        "in-process regression with env",
        SERVICE + '[[regression]]\nname = "a"\nenv = { X = "1" }\n',
        "field regression[0].env: an in-process factory is told the regression by name",
    ),
]


@pytest.mark.parametrize(("why", "text", "expected"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_target_refused_with_one_line(
    why: str, text: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = _check(tmp_path, text, capsys)
    assert code == 2, why
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"scanchaos: error: {tmp_path / 'target.toml'}: "), lines[0]
    assert expected in lines[0], lines[0]


def test_missing_target_file_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["target", "check", str(tmp_path / "none.toml")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot read the target file" in err


def test_the_bases_of_the_malformed_files_are_valid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each malformed file above is one mistake away from a valid one."""
    for text in (SERVICE, WSGI):
        code, err = _check(tmp_path, text, capsys)
        assert (code, err) == (0, "")


def test_reference_target_file_is_the_default_target(capsys: pytest.CaptureFixture[str]) -> None:
    target = load_target(ROOT / "targets/reference.toml")
    assert target == reference_target()
    assert target.is_reference and target.kind == "service"
    assert target.regressions == tuple(BUGS)
    assert main(["target", "check", str(ROOT / "targets/reference.toml")]) == 0
    out = capsys.readouterr().out
    assert "target 'reference' is valid" in out and "orphaned-scan" in out


def test_reference_target_gives_the_same_matrix_as_the_default() -> None:
    scenarios = [load(n)[0] for n in ("post-completion-404", "worker-restart-mid-scan")]
    bugs = ("cleanup-ignores-redis", "orphaned-scan", "no-user-scope")
    default = run_gate(scenarios, bugs=bugs)
    through_file = run_gate(
        scenarios, bugs=bugs, target=load_target(ROOT / "targets/reference.toml")
    )
    assert format_matrix(through_file) == format_matrix(default)
    assert [c.violated for c in through_file.cells] == [c.violated for c in default.cells]
    assert "X" in format_matrix(default) and "." in format_matrix(default)


def test_another_in_process_target_runs_its_own_regressions() -> None:
    target = load_target(RENAMED)
    assert not target.is_reference
    scenario = load("post-completion-404")[0]
    fixed = simulate(scenario, target=target)
    assert fixed.verdict.passed, fixed.verdict.violations
    broken = simulate(scenario, bugs=("forgets-lookup",), target=target)
    assert "reachable-until-expiry" in broken.verdict.violated()
    assert broken.history.info.bugs == ("forgets-lookup",)
    assert "--target" in broken.history.info.command


def _gate_renamed(tmp_path: Path, *scenarios: str) -> CliRun:
    """`scanchaos gate` on the renamed target, only `scenarios`, in this process."""
    chosen = [arg for name in scenarios for arg in ("--scenario", name)]
    return run_cli(
        ["gate", "--target", str(RENAMED), "--only", *chosen, "--jobs", "1"], tmp_path / "gate"
    )


def test_gate_on_a_target_reports_what_it_cannot_take(tmp_path: Path) -> None:
    run = _gate_renamed(
        tmp_path, "post-completion-404", "failover-after-completion", "user-isolation"
    )
    assert run.code == 0, run.out + run.err
    assert re.search(
        r"NOT APPLICABLE: scenario 'failover-after-completion' on target 'renamed': "
        r"the target does not run against a replica",
        run.out,
    ), run.out
    assert re.search(r"^forgets-lookup\s+\|\s+X\s+x\s+\|", run.out, re.M), run.out
    assert re.search(r"^serves-others\s+\|\s+\.\s+x\s+\|", run.out, re.M), run.out
    assert "GATE PASS" in run.out


def test_gate_on_a_target_fails_when_its_regression_escapes(tmp_path: Path) -> None:
    run = _gate_renamed(tmp_path, "post-completion-404")
    assert run.code == 1
    assert "ESCAPED: planted regression 'serves-others' is caught by no scenario" in run.out


def test_unknown_regression_of_a_target_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "run",
            "post-completion-404",
            "--target",
            str(RENAMED),
            "--bug",
            "orphaned-scan",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "--bug orphaned-scan: not a regression of target 'renamed'" in err
    assert "known: forgets-lookup, serves-others" in err


def test_scenario_a_target_cannot_take_is_refused_by_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        ["run", "failover-after-completion", "--target", str(RENAMED), "--out", str(tmp_path)]
    )
    assert code == 2
    assert "not applicable to target 'renamed'" in capsys.readouterr().err
