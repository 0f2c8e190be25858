"""junit.xml: the structure CI systems read, and the violation text in failures."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.checker import INVARIANTS, Verdict, Violation
from harness.checker import InvariantResult as Result
from harness.history import History, RunInfo
from harness.report import junit
from harness.scenario import available
from reference_impl import BUGS, Reply
from tests.cli_runs import CliRun, run_cli

CASE_CHILDREN = {"failure", "error", "skipped", "system-out", "system-err"}


def check_structure(root: ET.Element) -> None:
    """The attributes and nesting of the JUnit schema CI systems validate against."""
    assert root.tag == "testsuites"
    tests = failures = 0
    for suite in root:
        assert suite.tag == "testsuite"
        for attr in ("name", "tests", "failures", "errors", "skipped", "time", "timestamp"):
            assert attr in suite.attrib, f"testsuite lacks {attr}"
        cases = suite.findall("testcase")
        assert int(suite.get("tests", "")) == len(cases)
        failed = [c for c in cases if c.find("failure") is not None]
        assert int(suite.get("failures", "")) == len(failed)
        assert int(suite.get("errors", "")) == 0
        float(suite.get("time", ""))
        assert {child.tag for child in suite} <= {"properties", "testcase"}
        for prop in suite.iter("property"):
            assert set(prop.attrib) == {"name", "value"}
        for case in cases:
            assert case.get("name") and case.get("classname")
            assert float(case.get("time", "")) >= 0
            assert {child.tag for child in case} <= CASE_CHILDREN
            for failure in case.findall("failure"):
                assert failure.get("message") and failure.get("type")
                assert failure.text
        tests += len(cases)
        failures += len(failed)
    assert int(root.get("tests", "")) == tests
    assert int(root.get("failures", "")) == failures


def test_gate_junit_has_a_case_per_scenario_and_per_matrix_cell(full_gate: CliRun) -> None:
    root = ET.parse(full_gate.folder / "junit.xml").getroot()
    check_structure(root)
    suites = {s.get("name"): s for s in root}
    scenarios = list(available())
    assert [
        c.get("name") for c in suites["scanchaos.fixed-service"].findall("testcase")
    ] == scenarios
    matrix = suites["scanchaos.kill-matrix"].findall("testcase")
    assert len(matrix) == len(scenarios) * len(BUGS)
    assert {(c.get("classname"), c.get("name")) for c in matrix} == {
        (f"scanchaos.kill-matrix.{bug}", name) for bug in BUGS for name in scenarios
    }
    assert [c.get("name") for c in suites["scanchaos.regressions"].findall("testcase")] == list(
        BUGS
    )
    assert root.get("failures") == "0"
    caught = next(
        c
        for c in matrix
        if c.get("classname") == "scanchaos.kill-matrix.no-user-scope"
        and c.get("name") == "user-isolation"
    )
    out = caught.findtext("system-out") or ""
    assert out.startswith("caught (claimed) by isolated:\nisolated at ")
    assert "reproduce: scanchaos run user-isolation --bug no-user-scope --seed 0" in out


def test_failing_gate_junit_reports_escaped_regressions(tmp_path: Path) -> None:
    run = run_cli(["gate", "--only", "--scenario", "user-isolation", "--jobs", "1"], tmp_path)
    assert run.code == 1
    root = ET.parse(tmp_path / "junit.xml").getroot()
    check_structure(root)
    regressions = next(s for s in root if s.get("name") == "scanchaos.regressions")
    failed = {
        c.get("name"): c.find("failure")
        for c in regressions.findall("testcase")
        if c.find("failure") is not None
    }
    assert "no-user-scope" not in failed
    assert "budget-over-timeout" in failed
    failure = failed["budget-over-timeout"]
    assert failure is not None
    assert failure.get("type") == "escaped"
    assert failure.get("message") == "planted regression budget-over-timeout escaped every scenario"
    assert int(root.get("failures", "")) == len(failed)


def test_run_junit_failure_carries_the_violation_text(tmp_path: Path) -> None:
    run = run_cli(["run", "post-completion-404", "--bug", "cleanup-ignores-redis"], tmp_path)
    assert run.code == 1
    root = ET.parse(tmp_path / "junit.xml").getroot()
    check_structure(root)
    (case,) = root.iter("testcase")
    assert case.get("name") == "post-completion-404 [bugs: cleanup-ignores-redis]"
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("type") == "reachable-until-expiry"
    (violation,) = json.loads((tmp_path / "verdict.json").read_text())["violations"]
    text = failure.text or ""
    assert text.startswith(f"reachable-until-expiry at {violation['at']:.3f} s")
    assert violation["message"] in text
    assert "-> not_found" in text and "after completion" in text
    indices = ", ".join(f"#{i}" for i in violation["evidence"])
    assert f"witnessed by {violation['count']} operation(s); evidence op indices: {indices}" in text
    assert "reproduce: scanchaos run post-completion-404 --bug cleanup-ignores-redis --seed 0" in (
        case.findtext("system-out") or ""
    )


def test_passing_run_has_no_failure(tmp_path: Path) -> None:
    run = run_cli(["run", "user-isolation"], tmp_path)
    assert run.code == 0
    root = ET.parse(tmp_path / "junit.xml").getroot()
    check_structure(root)
    assert root.get("tests") == "1" and root.get("failures") == "0"


def test_markup_in_messages_is_escaped() -> None:
    history = History(RunInfo("odd<&>", command="scanchaos run 'x' --seed 0"))
    history.record("status", user="u", worker="w0", start=1, end=1, reply=Reply("error"))
    message = "reply <b>\"500\"</b> & more 'quoted'"
    verdict = Verdict(
        [Result(name, True, 1 if name == "no-server-errors" else 0) for name in INVARIANTS],
        [Violation("no-server-errors", message, 1.0, evidence=(0,))],
    )
    root = ET.fromstring(junit.render(junit.run_suites(history, verdict)))
    check_structure(root)
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None
    assert message in (failure.get("message") or "")
    assert message in (failure.text or "")
