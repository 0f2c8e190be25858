"""Reading a history file: streamed, compact, and as strict as the record model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.history import History, HistoryFormatError, Operation
from reference_impl import Reply
from tests.histories import OTHER, SCAN, Builder, complete, scanning

HEADER = {"type": "run", "scenario": "mine"}


def _op(index: int, start: float, scan: str = SCAN, **reply: object) -> dict[str, object]:
    answer = {"status": "scanning", "scan_id": scan, "owner": "alice", "done": 1, "total": 14}
    return {
        "type": "op",
        "index": index,
        "op": "status",
        "user": "alice",
        "worker": "w1",
        "start": start,
        "end": start + 0.5,
        "scan_id": scan,
        "reply": {**answer, **reply},
    }


def _failover(**fields: object) -> dict[str, object]:
    return {
        "type": "fault",
        "index": 0,
        "fault": "redis-failover",
        "start": 4.0,
        "end": 8.0,
        **fields,
    }


def _write(path: Path, *records: dict[str, object], tail: str = "\n") -> Path:
    path.write_text("\n".join(json.dumps(r) for r in records) + tail, encoding="utf-8")
    return path


def _sample() -> History:
    b = Builder().start(0.0, 1.0, scanning(0)).read(2.0, scanning(3)).outage(3.0, 4.0)
    b.read(5.0, scanning(5, owner="bob"), user="bob", scan=OTHER).read(30.0, complete(28.0))
    b.restart(31.0)
    return b.history


def test_a_written_history_reads_back_to_the_same_bytes(tmp_path: Path) -> None:
    history = _sample()
    history.write(tmp_path / "h.jsonl")
    read = History.read(tmp_path / "h.jsonl")
    assert read.dumps() == history.dumps()
    assert [o.to_record() for o in read.ops] == [o.to_record() for o in history.ops]
    assert all(type(o) is Operation and type(o.reply) is Reply for o in read.ops)


def test_operations_and_replies_are_slotted_and_share_their_repeated_strings(
    tmp_path: Path,
) -> None:
    path = _write(tmp_path / "h.jsonl", HEADER, _op(0, 1.0), _op(1, 2.0), _op(2, 3.0))
    first, second, _ = History.read(path).ops
    assert not hasattr(first, "__dict__") and not hasattr(first.reply, "__dict__")
    assert first.user is second.user and first.worker is second.worker
    assert first.scan_id is second.scan_id is second.reply.scan_id
    assert first.reply.owner is second.reply.owner


def test_operations_out_of_order_and_sparse_are_sorted_and_renumbered(tmp_path: Path) -> None:
    path = _write(tmp_path / "h.jsonl", HEADER, _op(7, 1.0), _op(3, 2.0), _op(12, 3.0))
    ops = History.read(path).ops
    assert [(o.index, o.start) for o in ops] == [(0, 2.0), (1, 1.0), (2, 3.0)]


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        ((_op(0, 1.0), _op(0, 2.0)), "h.jsonl:3: field index: operation 0 appears twice"),
        ((_op(2, 1.0), _op(1, 2.0), _op(2, 3.0)), "h.jsonl:4: field index: operation 2 appears"),
        ((_op(0, 1.0), _op(1, 1e308 * 10)), "h.jsonl:3: field start: Number out of range"),
        ((_op(0, 1.0), {**_op(1, 2.0), "end": 1.0}), "h.jsonl:3: field end: 1.0 is before start"),
        ((_op(0, 1.0), _op(1, 2.0, done="3")), "h.jsonl:3: field reply.done: Expected `int"),
        ((_op(0, 1.0), _op(1, 2.0, colour="red")), "h.jsonl:3: field reply.colour: unknown field"),
        ((_op(0, 1.0), {**HEADER}), "h.jsonl:3: a second 'run' record"),
        ((_failover(promoted=9.0),), "h.jsonl:2: field promoted: 9.0 is not within 4.0-8.0"),
        (
            ({**_failover(promoted=5.0), "fault": "redis-outage"},),
            "h.jsonl:2: field promoted: only a redis-failover has one, not redis-outage",
        ),
    ],
)
def test_a_malformed_line_is_named_by_its_number_and_field(
    tmp_path: Path, records: tuple[dict[str, object], ...], expected: str
) -> None:
    path = _write(tmp_path / "h.jsonl", HEADER, *records)
    # An infinite time, as a number JSON can hold (json.dumps would write `Infinity`).
    path.write_text(path.read_text(encoding="utf-8").replace("Infinity", "1e999"), "utf-8")
    with pytest.raises(HistoryFormatError, match=expected.replace(".", r"\.").replace("(", r"\(")):
        History.read(path)


def test_blank_lines_keep_the_numbering_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text(
        json.dumps(HEADER) + "\n\n  \n" + json.dumps({**_op(0, 1.0), "op": "poke"}) + "\n",
        encoding="utf-8",
    )
    with pytest.raises(HistoryFormatError, match=r"h\.jsonl:4: field op"):
        History.read(path)


def test_a_last_line_cut_off_is_dropped_and_the_run_marked_interrupted(tmp_path: Path) -> None:
    whole = json.dumps(_op(1, 2.0))
    path = _write(tmp_path / "h.jsonl", HEADER, _op(0, 1.0), tail="\n" + whole[:40])
    history = History.read(path)
    assert [o.index for o in history.ops] == [0]
    assert history.info.interrupted == "the last line was cut off"
    assert history.info.duration == 1.5


def test_a_failovers_promotion_time_is_read_back(tmp_path: Path) -> None:
    path = _write(tmp_path / "h.jsonl", HEADER, _failover(promoted=5.5), _failover(index=1))
    promoted, unsaid = History.read(path).faults
    assert promoted.promoted == 5.5 and unsaid.promoted is None
