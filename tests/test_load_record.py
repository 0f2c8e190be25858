"""Raw load records: one file per Locust process, merged into one History the checker judges."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest

from harness.checker import Checker
from harness.history import RunInfo
from harness.load.record import (
    FAULTS_FILE,
    RAW_FOLDER,
    LoadRecordError,
    OpRecorder,
    ServiceInfo,
    append_fault,
    append_fault_begun,
    clear_folder,
    interrupted_history,
    load_slack,
    merge,
    read_folder,
    scenario_clock,
    standalone_history,
    write_run_header,
)
from reference_impl import Reply
from tests import histories

EPOCH = 1_900_000_000.0
SCALE = 0.05
TIMING = msgspec.structs.replace(histories.TIMING, slack=load_slack(SCALE))
SERVICE = ServiceInfo(scale=SCALE, timing=TIMING, bugs=(), epoch=EPOCH)


def wall(scenario_seconds: float) -> float:
    return EPOCH + scenario_seconds * SCALE


def complete(scan_id: str = "a" * 32, finished: float = 28.0) -> Reply:
    return Reply(
        "complete",
        scan_id=scan_id,
        owner="alice",
        done=14,
        total=14,
        started_at=wall(0.0),
        finished_at=wall(finished),
    )


def record_scan(folder: Path, later: list[tuple[float, Reply]]) -> None:
    """Alice's scan, started at 0 and complete at 28 s, then read at the given times."""
    recorder = OpRecorder(folder, SERVICE)
    sid = "a" * 32
    recorder.record(
        "start",
        user="alice",
        worker="101",
        start=wall(0.0),
        end=wall(28.1),
        reply=complete(),
        scan_id=sid,
    )
    for at, reply in later:
        recorder.record(
            "status",
            user="alice",
            worker="102",
            start=wall(at),
            end=wall(at + 0.1),
            reply=reply,
            scan_id=sid,
        )
    recorder.close()


def judge(folder: Path) -> set[str]:
    history = merge(
        read_folder(folder), RunInfo("load", timing=TIMING), scenario_clock(EPOCH, SCALE)
    )
    return Checker().check(history).violated()


def test_ops_and_replies_are_merged_in_scenario_seconds(tmp_path: Path) -> None:
    record_scan(tmp_path, [(40.0, complete())])
    history = merge(
        read_folder(tmp_path), RunInfo("load", timing=TIMING), scenario_clock(EPOCH, SCALE)
    )
    start, poll = history.ops
    assert (start.op, start.start, start.worker) == ("start", 0.0, "101")
    assert poll.start == pytest.approx(40.0)
    assert poll.reply.finished_at == pytest.approx(28.0)
    assert poll.reply.started_at == pytest.approx(0.0)


def test_a_404_after_completion_is_a_violation(tmp_path: Path) -> None:
    record_scan(tmp_path, [(40.0, complete()), (45.0, Reply("not_found", scan_id="a" * 32))])
    assert judge(tmp_path) == {"reachable-until-expiry"}


def test_the_same_reads_without_the_404_pass(tmp_path: Path) -> None:
    record_scan(tmp_path, [(40.0, complete()), (45.0, complete())])
    assert judge(tmp_path) == set()


def test_503_is_excused_only_inside_a_recorded_fault_window(tmp_path: Path) -> None:
    unavailable = Reply("unavailable", scan_id="a" * 32, reason="redis unavailable")
    record_scan(tmp_path, [(60.0, unavailable)])
    assert judge(tmp_path) == {"no-server-errors", "reachable-until-expiry"}
    append_fault(tmp_path, "redis-outage", wall(59.0), wall(61.0))
    assert judge(tmp_path) == set()


def test_every_process_file_is_read_and_counted_finished(tmp_path: Path) -> None:
    record_scan(tmp_path, [(40.0, complete())])
    second = OpRecorder(tmp_path, SERVICE, name="other-1")  # another process's file
    second.record(
        "latest",
        user="bob",
        worker="103",
        start=wall(50.0),
        end=wall(50.1),
        reply=Reply("not_found"),
    )
    run = read_folder(tmp_path)
    assert (run.files, run.finished, len(run.ops)) == (2, 1, 3)
    second.close()
    assert read_folder(tmp_path).finished == 2


def test_a_line_still_being_written_is_not_read(tmp_path: Path) -> None:
    record_scan(tmp_path, [(40.0, complete())])
    path = next(tmp_path.glob("ops-*.jsonl"))
    with path.open("a", encoding="utf-8") as handle:
        handle.write('{"type":"op","op":"sta')
    assert len(read_folder(tmp_path).ops) == 2


def test_a_malformed_record_names_the_file_and_line(tmp_path: Path) -> None:
    record_scan(tmp_path, [])
    path = next(tmp_path.glob("ops-*.jsonl"))
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps({"type": "op", "op": "status"}) + "\n")
    with pytest.raises(LoadRecordError, match=rf"{path}:4: malformed record"):
        read_folder(tmp_path)
    (tmp_path / FAULTS_FILE).write_text('{"type":"fault","fault":"meteor"}\n', encoding="utf-8")
    path.unlink()
    with pytest.raises(LoadRecordError, match=rf"{FAULTS_FILE}:1: malformed fault"):
        read_folder(tmp_path)


def test_service_info_from_health_scales_back_to_scenario_seconds() -> None:
    health = {
        "status": "ok",
        "worker": 7,
        "scale": 0.05,
        "config": {"result_ttl": 15.0, "memory_ttl": 0.5, "cleanup_interval": 0.1},
        "bugs": ["cleanup-ignores-redis"],
    }
    info = ServiceInfo.from_health(health)
    assert info.timing.result_ttl == pytest.approx(300.0)
    assert info.timing.memory_ttl == pytest.approx(10.0)
    assert info.timing.slack == load_slack(0.05) == pytest.approx(6.0)
    assert info.bugs == ("cleanup-ignores-redis",)
    assert ServiceInfo.from_json(info.to_json()) == info


def test_standalone_history_counts_from_the_first_request(tmp_path: Path) -> None:
    recorder = OpRecorder(tmp_path, ServiceInfo(scale=SCALE, timing=TIMING))
    recorder.record(
        "latest", user="bob", worker="1", start=wall(10.0), end=wall(11.0), reply=Reply("not_found")
    )
    recorder.close()
    history = standalone_history(read_folder(tmp_path), "locust -f x")
    assert history.ops[0].start == 0.0
    assert history.info.duration == pytest.approx(1.0)
    assert (history.info.mode, history.info.command) == ("load", "locust -f x")


def test_clear_folder_removes_only_what_a_run_writes(tmp_path: Path) -> None:
    record_scan(tmp_path, [(40.0, complete())])
    append_fault(tmp_path, "redis-outage", wall(1.0), wall(2.0))
    (tmp_path / "verdict.json").write_text("{}", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    # The harness writes the header before Locust's master clears the folder: it stays.
    write_run_header(tmp_path, RunInfo("load"))
    clear_folder(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "run.json"]
    assert read_folder(tmp_path).ops == []


def _killed_load(out: Path, *, fault_open: bool) -> None:
    """What a load SIGKILLed mid-run leaves in `out`: the header, a process file without its
    end record, and (with `fault_open`) an outage the nemesis opened and never closed."""
    raw = out / RAW_FOLDER
    write_run_header(raw, RunInfo("load", mode="load", seed=7, timing=TIMING, command="x"))
    record_scan(raw, [])
    # The process was killed before its end record: take that line off again.
    (path,) = raw.glob("ops-*.jsonl")
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    assert '"end"' in lines[-1]
    path.write_text("".join(lines[:-1]), encoding="utf-8")
    append_fault(raw, "worker-restart", wall(5.0), wall(6.0), "103")
    if fault_open:
        append_fault_begun(raw, "redis-outage", wall(20.0))


def test_a_killed_load_is_merged_from_its_records_and_says_so(tmp_path: Path) -> None:
    _killed_load(tmp_path, fault_open=True)
    history = interrupted_history(tmp_path)
    assert history is not None
    assert history.info.interrupted is not None
    assert "1 of 1 Locust process record(s) have no end" in history.info.interrupted
    assert history.info.seed == 7 and history.info.command == "x"
    assert [op.op for op in history.ops] == ["start"]
    assert history.ops[0].start == pytest.approx(0.0)
    kinds = [(f.fault, round(f.start, 3), round(f.end, 3)) for f in history.faults]
    # The outage never closed: it lasted, as far as the records tell, to the last request.
    assert kinds == [("worker-restart", 5.0, 6.0), ("redis-outage", 20.0, 28.1)]


def test_a_closed_fault_window_replaces_its_opening(tmp_path: Path) -> None:
    append_fault_begun(tmp_path, "redis-outage", wall(20.0))
    append_fault(tmp_path, "redis-outage", wall(20.0), wall(24.0))
    run = read_folder(tmp_path)
    assert run.open_faults == []
    assert [(f.fault, f.end) for f in run.faults] == [("redis-outage", wall(24.0))]


def test_a_folder_without_a_load_header_is_no_interrupted_load(tmp_path: Path) -> None:
    record_scan(tmp_path / RAW_FOLDER, [])
    assert interrupted_history(tmp_path) is None


def test_check_and_report_accept_a_killed_load_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from harness.cli import main

    _killed_load(tmp_path, fault_open=False)
    assert main(["check", str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert "the load run stopped before its end" in captured.err
    assert "interrupted run: the load run stopped before its end" in captured.out
    assert (tmp_path / "history.jsonl").is_file()
    assert main(["report", str(tmp_path)]) == 0
    assert (tmp_path / "report.html").is_file()


def test_an_opening_at_a_time_finer_than_a_microsecond_is_closed_by_its_window(
    tmp_path: Path,
) -> None:
    # Fault records keep times to the microsecond; an opening kept to the last digit never
    # matched its closing record, and the one restart read as two windows.
    began = wall(20.0) + 0.1234567
    append_fault_begun(tmp_path, "worker-restart", began, "7")
    append_fault(tmp_path, "worker-restart", began, began + 1.0, "7")
    run = read_folder(tmp_path)
    assert run.open_faults == []
    assert len(run.faults) == 1
