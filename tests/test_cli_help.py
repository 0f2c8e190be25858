"""Every option of every `scanchaos` subcommand says what it does in `--help`."""

from __future__ import annotations

import argparse

from harness.cli import _parser


def _subcommands(
    parser: argparse.ArgumentParser,
) -> dict[str, tuple[argparse.ArgumentParser, str | None]]:
    """Each subcommand's parser and the one line `scanchaos --help` shows for it."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            lines = {a.dest: a.help for a in action._get_subactions()}
            for name, sub in action.choices.items():
                found[name] = (sub, lines.get(name))
    return found


def _undescribed(parser: argparse.ArgumentParser) -> list[str]:
    return [
        "/".join(action.option_strings) or action.dest
        for action in parser._actions
        if not isinstance(action, (argparse._HelpAction, argparse._SubParsersAction))
        and (not action.help or action.help == argparse.SUPPRESS)
    ]


def test_every_option_of_every_subcommand_has_help() -> None:
    parser = _parser()
    subcommands = _subcommands(parser)
    assert {"run", "gate", "report", "explore", "list", "serve", "load"} <= set(subcommands)
    missing = {name: _undescribed(sub) for name, (sub, _) in subcommands.items()}
    missing["scanchaos"] = _undescribed(parser)
    assert {name: options for name, options in missing.items() if options} == {}
    assert [name for name, (_, line) in subcommands.items() if not line] == []


def test_the_walk_sees_an_option_without_help() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--described", help="says what it does")
    parser.add_argument("--silent")
    assert _undescribed(parser) == ["--silent"]
