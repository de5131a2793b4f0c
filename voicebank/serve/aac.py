"""AAC boards: AsTeRICS Grid's external speech service routes, speaking with voicebank's voices.

(Stub: the routes are being written; see issue 17.)
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute


def routes(server: Any) -> list[BaseRoute]:
    """The AsTeRICS Grid speech-service routes."""
    return []
