"""The speak board's pages and files (served from ``static/``), and the phrase list they show."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from .app import SpeechServer


def routes(server: SpeechServer) -> list[BaseRoute]:
    """The board's routes of ``server``."""
    return []
