"""Ids are checked before they become Redis keys, also in an optimised (`python -O`) run."""

from __future__ import annotations

import subprocess
import sys

import pytest

from reference_impl import keys

GOOD_SCAN = "0" * 32
GOOD_CACHE = "a" * 24


@pytest.mark.parametrize(
    ("build", "bad"),
    [
        (keys.lookup_key, "0" * 31),
        (keys.lookup_key, GOOD_SCAN + "\n"),
        (keys.latest_key, "a b*:"),
        (keys.latest_key, "alice\n"),
        (keys.latest_key, ""),
        (keys.latest_key, "x" * 65),
        (keys.result_key, "A" * 24),
        (keys.result_key, GOOD_CACHE + "\n"),
    ],
)
def test_a_malformed_id_never_becomes_a_key(build: object, bad: str) -> None:
    assert callable(build)
    with pytest.raises(keys.InvalidIdError, match="malformed"):
        build(bad)


def test_well_formed_ids_make_contract_keys() -> None:
    for key in (
        keys.lookup_key(GOOD_SCAN),
        keys.latest_key("alice_1.x-y"),
        keys.result_key(GOOD_CACHE),
    ):
        assert keys.is_contract_key(key), key


def test_user_id_problem_names_the_rule() -> None:
    assert keys.user_id_problem("alice") is None
    problem = keys.user_id_problem("a b*:")
    assert problem is not None and "'a b*:'" in problem and keys.USER_ID_RULE in problem
    assert keys.user_id_problem(7) == "a user id is a string, not int"


def test_the_guard_survives_python_dash_o() -> None:
    code = "import sys\nfrom reference_impl import keys\nassert False, 'asserts are on'\n"
    asserts_off = subprocess.run([sys.executable, "-O", "-c", code], capture_output=True)
    assert asserts_off.returncode == 0, "python -O did not strip asserts: the test proves nothing"
    probe = (
        "from reference_impl import keys\n"
        "for build, bad in ((keys.lookup_key, 'x'), (keys.latest_key, 'a b*:'),"
        " (keys.result_key, 'y')):\n"
        "    try:\n"
        "        build(bad)\n"
        "    except keys.InvalidIdError:\n"
        "        continue\n"
        "    raise SystemExit(f'{build.__name__} accepted {bad!r}')\n"
        "print('refused all')\n"
    )
    result = subprocess.run(
        [sys.executable, "-O", "-c", probe], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "refused all"
