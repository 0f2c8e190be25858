"""The report in a real headless browser: it loads from file://, shows its images, says no error.

Chromium and its driver (Debian packages `chromium`, `chromium-driver`) must be installed; in CI
(`CI` set) these tests fail rather than skip when they are missing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import Browser, binaries_or_skip, chromium

from harness.report.files import write_run
from harness.report.html import render_folder, write_report
from harness.report.matrix import KillMatrix, MatrixCell
from harness.report.rundir import RunRecord
from harness.report.timeline import HEIGHT_PX, WIDTH_PX

#: what the page shows once loaded: every image's natural and displayed size, broken anchors
PROBE = """(() => {
  const imgs = [...document.images].map(i => ({
    id: i.id, complete: i.complete, natural: [i.naturalWidth, i.naturalHeight],
    shown: [i.clientWidth, i.clientHeight]}));
  const anchors = [...document.querySelectorAll('a[href^="#"]')].map(a => a.getAttribute('href'));
  const broken = anchors.filter(h => !document.getElementById(h.slice(1)));
  const title = document.title;
  const text = document.body.innerText;
  return {imgs, anchors: anchors.length, broken, title, text};
})()"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    binary, driver = binaries_or_skip()
    with chromium(binary, driver, tmp_path_factory.mktemp("chromium-profile")) as b:
        yield b


def _self_contained(requests: list[str]) -> list[str]:
    return [u for u in requests if not u.startswith(("file:", "data:"))]


def test_incident_report_loads_with_timeline_and_no_errors(
    browser: Browser, incident: RunRecord, tmp_path: Path
) -> None:
    write_report(tmp_path, incident.history, incident.verdict)
    page = browser.load(tmp_path / "report.html", PROBE)
    assert page.errors == []
    assert page.url in page.requests  # the log saw our page's own requests
    assert _self_contained(page.requests) == []
    timeline = next(i for i in page.value["imgs"] if i["id"].endswith("timeline-image"))
    assert timeline["complete"]
    assert timeline["natural"] == [WIDTH_PX, HEIGHT_PX]
    assert timeline["shown"][0] > 0 and timeline["shown"][1] > 0
    assert page.value["broken"] == []
    assert page.value["anchors"] > 20  # the violation star, its evidence links, back-links
    assert "11.9 s after the scan completed" in page.value["text"]


def test_gate_report_shows_every_timeline_and_the_matrix(
    browser: Browser, incident: RunRecord, fixed: RunRecord, tmp_path: Path
) -> None:
    write_run(tmp_path / "bad", incident.history, incident.verdict, report=False)
    write_run(tmp_path / "good", fixed.history, fixed.verdict, report=False)
    KillMatrix(
        0,
        ("post-completion-404",),
        ("cleanup-ignores-redis",),
        [MatrixCell("post-completion-404", "cleanup-ignores-redis", True, ("x",))],
    ).write(tmp_path)
    render_folder(tmp_path)
    page = browser.load(tmp_path / "report.html", PROBE)
    assert page.errors == []
    assert page.url in page.requests  # the log saw our page's own requests
    assert _self_contained(page.requests) == []
    naturals = [i["natural"] for i in page.value["imgs"]]
    assert naturals == [[WIDTH_PX, HEIGHT_PX], [WIDTH_PX, HEIGHT_PX]]
    assert "Kill matrix" in page.value["text"]
    assert page.value["broken"] == []


def test_the_browser_check_sees_a_broken_page(browser: Browser, tmp_path: Path) -> None:
    """The checks above can fail: a missing image and a script error are both seen."""
    page_path = tmp_path / "broken.html"
    page_path.write_text(
        "<!DOCTYPE html><html><head><title>x</title></head><body>"
        '<img id="timeline-image" src="timeline-missing.png">'
        '<a href="#nowhere">dangling</a>'
        "<script>console.error('boom'); undefinedFunction();</script></body></html>",
        encoding="utf-8",
    )
    page = browser.load(page_path, PROBE)
    assert any("boom" in e for e in page.console_errors)
    assert page.exceptions
    assert page.failed_requests
    assert page.value["imgs"][0]["natural"] == [0, 0]
    assert page.value["broken"] == ["#nowhere"]


def test_committed_example_opens_offline(browser: Browser) -> None:
    example = Path(__file__).parents[2] / "reports" / "examples"
    page = browser.load(
        example / "post-completion-404-cleanup-ignores-redis" / "report.html", PROBE
    )
    assert page.errors == []
    assert page.url in page.requests  # the log saw our page's own requests
    assert _self_contained(page.requests) == []
    assert [i["natural"] for i in page.value["imgs"]] == [[WIDTH_PX, HEIGHT_PX]]
