"""Import a command module that may be absent from a trimmed install."""

from __future__ import annotations

import importlib
from types import ModuleType


def optional_module(package: str, name: str) -> ModuleType | None:
    """``package.name`` if that module exists; errors inside an existing module still raise."""
    try:
        return importlib.import_module(f"{package}.{name}")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.endswith(f".{name}"):
            return None
        raise
