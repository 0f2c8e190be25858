"""Services under test beyond the harness itself: one target file (and service) per target.

`reference.toml` is the reference service through the generic path (`harness.target`).
"""
