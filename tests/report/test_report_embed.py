"""The Markdown a summary uses to embed the timeline and link the report."""

from __future__ import annotations

import pytest

from harness.report.embed import markdown_image, report_link


@pytest.mark.parametrize(
    ("path", "scenario", "expected"),
    [
        ("timeline.png", None, "![timeline](timeline.png)"),
        ("s/timeline.png", "s", "![timeline of s](s/timeline.png)"),
    ],
)
def test_markdown_image(path: str, scenario: str | None, expected: str) -> None:
    assert markdown_image(path, scenario) == expected


def test_report_link() -> None:
    assert report_link("s/report.html") == "[full report with the evidence](s/report.html)"
