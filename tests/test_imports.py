"""What a process imports: the Locust side of a load run must not pull in the simulation."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def _modules_after(statement: str) -> set[str]:
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(out))


def test_load_record_imports_nothing_of_the_simulation() -> None:
    loaded = _modules_after("import harness.load.record")
    assert "harness.load.record" in loaded
    assert not {m for m in loaded if m.startswith("harness.sim")}
    assert not {"fakeredis", "freezegun", "harness.runner", "harness.live.cluster"} & loaded


def test_the_relay_of_a_distributed_load_imports_neither_gevent_nor_locust() -> None:
    # It is tested in the pytest process, and its bookkeeping is the same on either side.
    loaded = _modules_after("import harness.load.relay")
    assert "harness.load.relay" in loaded
    assert not {m for m in loaded if m.split(".")[0] in ("gevent", "locust", "zmq")}


def test_the_package_names_still_resolve_on_use() -> None:
    loaded = _modules_after("import harness\nharness.SimCluster")
    assert "harness.sim.cluster" in loaded


def test_the_load_commands_do_not_import_the_main_cli() -> None:
    # harness.cli imports harness.load.cli to add its commands; the other way would be a cycle.
    loaded = _modules_after("import harness.load.cli")
    assert "harness.load.cli" in loaded
    assert "harness.cli" not in loaded


def test_the_locustfile_runs_without_the_simulation() -> None:
    locustfile = Path(__file__).parents[1] / "scenarios" / "locustfile.py"
    loaded = _modules_after(f"import runpy\nrunpy.run_path({str(locustfile)!r})")
    assert "harness.load.record" in loaded
    assert not {m for m in loaded if m.startswith("harness.sim")}
    assert not {"fakeredis", "freezegun", "harness.runner"} & loaded
