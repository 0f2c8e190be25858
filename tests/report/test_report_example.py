"""The committed example report (reports/examples/) is whole, readable and shows the incident."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image

from harness.report.rundir import read_run
from harness.report.timeline import HEIGHT_PX, WIDTH_PX

EXAMPLE = (
    Path(__file__).parents[2] / "reports" / "examples" / "post-completion-404-cleanup-ignores-redis"
)


def test_example_holds_the_incident_and_its_pictures() -> None:
    record = read_run(EXAMPLE)
    assert record.history.info.bugs == ("cleanup-ignores-redis",)
    (violation,) = record.verdict.violations
    assert violation.invariant == "reachable-until-expiry"
    assert violation.after_completion is not None and 10.0 <= violation.after_completion <= 14.0
    image = Image.open(io.BytesIO((EXAMPLE / "timeline.png").read_bytes()))
    assert image.size == (WIDTH_PX, HEIGHT_PX)
    page = (EXAMPLE / "report.html").read_text(encoding="utf-8")
    assert "11.9 s after the scan completed" in page
    assert "data:image/png;base64," in page
