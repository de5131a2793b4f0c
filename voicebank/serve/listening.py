"""The listening test (/listen): blind A/B/X trials of a person's real takes against voices.

(Stub: the page is being written; see issue 21.)
"""

from __future__ import annotations

from typing import Any

from starlette.routing import BaseRoute


def routes(server: Any) -> list[BaseRoute]:
    """The listening test's page and API."""
    return []
