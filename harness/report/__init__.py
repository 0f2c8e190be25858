"""Reporters: every verdict, from every mode, is rendered by these."""

from harness.report.console import format_run
from harness.report.files import default_out_dir, write_gate, write_run

__all__ = ["default_out_dir", "format_run", "write_gate", "write_run"]
