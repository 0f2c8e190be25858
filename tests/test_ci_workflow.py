"""The CI recipes in the repository: the GitHub Actions workflow and the GitLab job of the CI
guide parse as YAML and run the commands the README names."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "scanchaos.yml"


def _readme_ci_commands() -> list[str]:
    """The command lines of the README's "In CI" block, comments dropped."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## In CI", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    return [line.split("#", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def _workflow() -> dict[Any, Any]:
    data = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def _runs(job: dict[str, Any]) -> list[str]:
    return [step["run"] for step in job["steps"] if "run" in step]


def test_the_readme_names_the_simulated_and_the_live_gate() -> None:
    commands = _readme_ci_commands()
    assert len(commands) == 2
    assert commands[0].startswith("scanchaos gate ") and "--junit" in commands[0]
    assert "--mode live" in commands[1] and "--junit" in commands[1]


def test_the_workflow_gates_every_push_and_the_live_gate_nightly() -> None:
    data = _workflow()
    # PyYAML reads the bare key `on` as True (YAML 1.1)
    triggers = data.get("on", data.get(True))
    assert {"push", "pull_request", "schedule"} <= set(triggers)
    sim, live = _readme_ci_commands()
    jobs = data["jobs"]
    assert _runs(jobs["gate"]).count(sim) == 1
    assert "schedule" in jobs["gate"]["if"] and "!=" in jobs["gate"]["if"]
    assert _runs(jobs["live-gate"]).count(live) == 1
    assert "github.event_name == 'schedule'" in jobs["live-gate"]["if"]


def test_each_job_installs_redis_uploads_the_reports_and_publishes_junit() -> None:
    for name, job in _workflow()["jobs"].items():
        runs = " ".join(_runs(job))
        assert "apt-get install" in runs and "redis-server" in runs, name
        uses = {step["uses"].split("@")[0]: step for step in job["steps"] if "uses" in step}
        upload = uses["actions/upload-artifact"]
        assert upload["if"] == "always()", name
        gate = next(r for r in _runs(job) if r.startswith("scanchaos gate"))
        out = gate.split("--out ", 1)[1].split()[0]
        junit = gate.split("--junit ", 1)[1].split()[0]
        assert out + "/" in upload["with"]["path"].split(), name
        report = uses["mikepenz/action-junit-report"]
        assert report["if"] == "always()", name
        pattern = report["with"]["report_paths"]
        assert Path(junit).match(pattern), (name, junit, pattern)


def test_the_ci_guide_gitlab_job_parses_and_runs_the_same_commands() -> None:
    guide = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    block = re.search(r"## GitLab CI.*?```yaml\n(.*?)```", guide, re.S)
    assert block is not None
    data = yaml.safe_load(block.group(1))
    sim, live = _readme_ci_commands()
    assert data["scanchaos-gate"]["script"] == [sim]
    assert data["scanchaos-live-gate"]["script"] == [live]
    template = data[".scanchaos"]
    assert any("redis-server" in line for line in template["before_script"])
    assert template["artifacts"]["when"] == "always"
    assert template["artifacts"]["reports"]["junit"] == "reports/junit/*.xml"
    # the guide's own command block is the README's
    assert all(command in guide for command in (sim, live))


def test_nothing_in_the_docs_points_outside_the_repository() -> None:
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text, path
        for target in re.findall(r"\]\(((?:\.\./)+[^)#\s]*)", text):
            assert (path.parent / target).resolve().is_relative_to(ROOT), (path, target)


def test_every_relative_link_in_the_docs_names_a_file_of_the_repository() -> None:
    missing = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for target in re.findall(r"\]\((?![a-z]+:)([^)#\s]+)", text):
            if not (path.parent / target).exists():
                missing.append(f"{path.relative_to(ROOT)} -> {target}")
    # docs/architecture.md is written with the cluster-protocol change; until it lands it is
    # the one link allowed to dangle
    assert [m for m in missing if not m.endswith("architecture.md")] == []
