"""Reporters: every verdict, from every mode, is rendered by these."""

from harness.report.console import format_run
from harness.report.files import (
    OutDirError,
    default_out_dir,
    prepare_out_dir,
    write_gate,
    write_run,
)

__all__ = [
    "OutDirError",
    "default_out_dir",
    "format_run",
    "prepare_out_dir",
    "write_gate",
    "write_run",
]
