"""The WebSocket speech protocol (``/v1/stream``, see docs/websocket.md): speak, stop, barge-in, tagged PCM frames."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

if TYPE_CHECKING:
    from .app import SpeechServer


def routes(server: SpeechServer) -> list[BaseRoute]:
    """The WebSocket route(s) of ``server``."""
    return []
