"""Targets: the services under test, each described by a target file (TOML).

A target says how to start N workers of a service, how to talk to it and how to break it. The
reference service is one target among others (`targets/reference.toml`); `docs/targets.md`
walks through the file field by field.

>>> from harness.target import load_target
>>> target = load_target("targets/reference.toml")
>>> target.kind, target.spec.workers, target.timing().result_ttl
('service', 3, 300.0)

A mistake is refused with one line naming the file and the field:

>>> load_target("pyproject.toml")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
harness.target._load.TargetError: pyproject.toml: field name: missing
"""

import functools
from pathlib import Path

from harness.target._load import TargetError, load_target
from harness.target._target import Target

__all__ = [
    "REFERENCE_TARGET",
    "Target",
    "TargetError",
    "describe",
    "load_target",
    "reference_target",
]

#: the reference's target file, in the `targets` package (a checkout's and a wheel's alike)
REFERENCE_TARGET = "targets/reference.toml"


@functools.cache
def reference_target() -> Target:
    """The reference service's target: what every command runs when given no `--target`."""
    from importlib.resources import files

    try:
        return load_target(str(files("targets") / "reference.toml"))
    except ModuleNotFoundError:
        # An editable install made before `targets` existed does not map it; a checkout has it.
        beside = Path(__file__).resolve().parents[2] / REFERENCE_TARGET
        if not beside.is_file():
            raise TargetError(
                "the reference target (the `targets` package) is not installed: "
                "reinstall the harness (`pip install -e .` in a checkout)"
            ) from None
        return load_target(beside)


def describe(target: Target) -> str:
    """What `target` declares, in a few lines (`scanchaos target check`)."""
    return target.describe()
