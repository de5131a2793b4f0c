"""Every command's ``--help`` renders, and its prose reflows to the terminal's width.

Typer keeps a docstring's line breaks, so a paragraph wrapped by hand in the source prints
ragged in a terminal narrower than the source lines (half-empty lines mid-sentence). Prose
paragraphs are therefore written on one line; indented lines (examples) keep their breaks.
"""

from __future__ import annotations

from typing import Any

from typer.main import get_command
from typer.testing import CliRunner

from cli.main import app


def _commands(cmd: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = [(path, cmd)]
    for name, sub in sorted((getattr(cmd, "commands", None) or {}).items()):
        found += _commands(sub, (*path, name))
    return found


def _hand_wrapped(help_text: str) -> list[str]:
    """Paragraphs of prose broken over several source lines (examples are indented, and fine)."""
    bad = []
    for para in help_text.strip().split("\n\n"):
        lines = para.strip("\n").split("\n")
        if len(lines) > 1 and not para.startswith("\b") and not any(line.startswith(" ") for line in lines):
            bad.append(lines[0][:60])
    return bad


def test_every_help_renders_and_its_prose_reflows() -> None:
    commands = _commands(get_command(app))
    assert len(commands) > 40  # the whole tree was walked, not just the top
    runner = CliRunner()
    wrapped = {}
    for path, cmd in commands:
        done = runner.invoke(app, [*path, "--help"], terminal_width=80)
        assert done.exit_code == 0, (path, done.output)
        assert "usage: voicebank" in done.output.lower(), path  # bench passes some to argparse
        bad = _hand_wrapped(cmd.help or "")
        if bad:
            wrapped[" ".join(path)] = bad
    assert not wrapped, f"hand-wrapped help paragraphs (write each on one line): {wrapped}"
