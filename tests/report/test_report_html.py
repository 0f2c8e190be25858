"""report.html: self-contained, every violation linked to its evidence, optional sections."""

from __future__ import annotations

import base64
import io
import json
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

from PIL import Image

from harness.checker import Checker
from harness.history import History, RunInfo
from harness.report.html import render_folder, render_html, run_view, write_report
from harness.report.loadplot import LOAD_HEIGHT_PX, LOAD_WIDTH_PX
from harness.report.matrix import KillMatrix, MatrixCell
from harness.report.rundir import RunRecord
from harness.report.timeline import HEIGHT_PX, WIDTH_PX
from reference_impl import Reply


class Page(HTMLParser):
    """Every id, link, image and script of a page, and its text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.hrefs: list[str] = []
        self.srcs: list[str] = []
        self.tags: list[str] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        values = dict(attrs)
        if values.get("id"):
            self.ids.append(str(values["id"]))
        if values.get("href"):
            self.hrefs.append(str(values["href"]))
        if values.get("src"):
            self.srcs.append(str(values["src"]))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @property
    def plain(self) -> str:
        return " ".join(" ".join(self.text).split())


def _png_size(src: str) -> tuple[int, int]:
    prefix = "data:image/png;base64,"
    assert src.startswith(prefix)
    return Image.open(io.BytesIO(base64.b64decode(src[len(prefix) :]))).size


def test_incident_page_is_self_contained_and_links_every_violation(
    incident: RunRecord, tmp_path: Path
) -> None:
    write_report(tmp_path, incident.history, incident.verdict)
    page = Page((tmp_path / "report.html").read_text(encoding="utf-8"))
    assert "script" not in page.tags and "link" not in page.tags
    assert [_png_size(s) for s in page.srcs] == [(WIDTH_PX, HEIGHT_PX)]
    assert all(h.startswith("#") for h in page.hrefs), page.hrefs
    assert len(page.ids) == len(set(page.ids))
    assert {h[1:] for h in page.hrefs} <= set(page.ids)
    (violation,) = incident.verdict.violations
    for index in violation.evidence:
        assert f"#post-completion-404-op-{index}" in page.hrefs
        assert f"post-completion-404-op-{index}" in page.ids
    # the star on the image links to the violation
    assert page.hrefs.count("#post-completion-404-v1") >= 2
    assert "from 40.0 s, 11.9 s after the scan completed, reads answered not_found" in page.plain
    assert "on worker(s) w0, w1, w2" in page.plain
    assert "reachable-until-expiry ✗ FAIL 1" in page.plain
    assert "321 (first 40.0 s)" in page.plain  # not_found per worker, from 40 s on
    assert (tmp_path / "timeline.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_passing_run_says_so(fixed: RunRecord) -> None:
    page = Page(render_html([run_view(fixed)], title="t"))
    assert "PASS" in page.plain
    assert "All 10 checked invariants held over" in page.plain
    assert not any(i.endswith("-evidence") for i in page.ids)


def test_names_are_escaped() -> None:
    history = History(RunInfo("<script>alert(1)</script>", duration=5.0))
    html = render_html([run_view(RunRecord(history, Checker().check(history)))], title="<b>")
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert "<title>&lt;b&gt;</title>" in html


def test_gate_page_carries_the_kill_matrix(incident: RunRecord, fixed: RunRecord) -> None:
    matrix = KillMatrix(
        seed=0,
        scenarios=("post-completion-404", "other"),
        bugs=("cleanup-ignores-redis", "no-user-scope"),
        cells=[
            MatrixCell("post-completion-404", "cleanup-ignores-redis", True, ("a",)),
            MatrixCell("other", "cleanup-ignores-redis", False),
            MatrixCell("post-completion-404", "no-user-scope", False),
            MatrixCell("other", "no-user-scope", False),
        ],
        claims={"other": ("cleanup-ignores-redis",)},
    )
    page = Page(render_html([run_view(fixed)], title="gate", matrix=matrix))
    assert "kill-matrix" in page.ids
    assert "GATE FAIL" in page.plain
    assert "no-user-scope . . ESCAPED" in page.plain
    assert "cleanup-ignores-redis x . yes" in page.plain
    assert "UNMET CLAIM: scenario other claims to catch cleanup-ignores-redis" in page.plain
    caught = replace(
        matrix, claims={}, cells=[*matrix.cells[:3], MatrixCell("other", "no-user-scope", True)]
    )
    assert "GATE PASS" in Page(render_html([run_view(fixed)], title="g", matrix=caught)).plain
    assert "GATE FAIL" in Page(render_html([run_view(incident)], title="g", matrix=caught)).plain


def test_load_run_gets_throughput_latency_and_outcome_counts() -> None:
    history = History(RunInfo("load-test", mode="load", duration=20.0))
    for i in range(200):
        t = i * 0.1
        status = "not_found" if t > 12 else "complete"
        history.record(
            "status", user="u", worker=f"w{i % 2}", start=t, end=t + 0.02, reply=Reply(status)
        )
    history.fault("redis-outage", 5.0, 7.0)
    page = Page(render_html([run_view(RunRecord(history, Checker().check(history)))], title="l"))
    assert [_png_size(s) for s in page.srcs] == [
        (WIDTH_PX, HEIGHT_PX),
        (LOAD_WIDTH_PX, LOAD_HEIGHT_PX),
    ]
    assert "Outcomes: complete 121, not_found 79." in page.plain
    assert "load-test-load" in page.ids


def test_sim_run_has_no_load_section(fixed: RunRecord) -> None:
    assert not any(i.endswith("-load") for i in Page(render_html([run_view(fixed)], title="t")).ids)


def test_explorer_schedule_section(fixed: RunRecord, tmp_path: Path) -> None:
    write_report(tmp_path, fixed.history, fixed.verdict)
    from harness.report.files import write_run

    write_run(tmp_path, fixed.history, fixed.verdict, report=False)
    (tmp_path / "shrunk.py").write_text("SCENARIO = 'the shrunk one'\n", encoding="utf-8")
    (tmp_path / "schedule.json").write_text(
        json.dumps(
            {
                "script": "shrunk.py",
                "command": "scanchaos run shrunk.py --bug x",
                "seed": 4,
                "steps": ["at 0.0 s: alice starts s1", "at 12.0 s: poll s1 on w1"],
            }
        ),
        encoding="utf-8",
    )
    render_folder(tmp_path)
    page = Page((tmp_path / "report.html").read_text(encoding="utf-8"))
    assert "post-completion-404-schedule" in page.ids
    assert "replay: scanchaos run shrunk.py --bug x (seed 4)" in page.plain
    assert "at 12.0 s: poll s1 on w1" in page.plain
    assert "SCENARIO = 'the shrunk one'" in page.plain
