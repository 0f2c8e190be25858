"""The report files' names and how a Markdown summary embeds the timeline (no plotting imports).

`summary.md` calls `markdown_image()` (in a gate folder, once per scenario with the scenario's
subfolder in the path) so that the summary pasted into a pull request shows the picture.
"""

from __future__ import annotations

TIMELINE_FILE = "timeline.png"
REPORT_FILE = "report.html"


def markdown_image(path: str = TIMELINE_FILE, scenario: str | None = None) -> str:
    """The Markdown that embeds a timeline, e.g. `![timeline](timeline.png)`.

    `path` is relative to the summary (`post-completion-404/timeline.png` in a gate folder).

    >>> markdown_image()
    '![timeline](timeline.png)'
    >>> markdown_image("post-completion-404/timeline.png", "post-completion-404")
    '![timeline of post-completion-404](post-completion-404/timeline.png)'
    """
    alt = f"timeline of {scenario}" if scenario else "timeline"
    return f"![{alt}]({path})"


def report_link(path: str = REPORT_FILE) -> str:
    """A Markdown link to the HTML report beside the summary."""
    return f"[full report with the evidence]({path})"
