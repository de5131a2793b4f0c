"""``voicebank train instant``: a first voice in minutes, without training (see issue 21)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Register ``train instant`` on the train group (stub until the command lands)."""
