"""The workers' state files: which process runs (or ran) which scan.

A worker running a scan keeps a file `{state_dir}/{pid}` naming it (see `reference_impl.web`);
the file outlives a killed worker, so the harness can still tell which process ran a scan.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["read_state_files"]


def read_state_files(state_dir: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Every worker's state file, dead or alive: its pid and what it holds."""
    for path in state_dir.iterdir():
        if not path.name.isdigit():
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # written or removed right now
        yield int(path.name), data
