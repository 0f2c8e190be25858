"""Scenario scripts: one module per scenario, each exporting `SCENARIO` (see harness.scenario)."""
