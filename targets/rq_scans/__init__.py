"""rq_scans: a scan service whose scans run as RQ jobs on real RQ worker processes.

See README.md beside this file for its routes and how `target.toml` and `tuned.toml` map it.
"""
