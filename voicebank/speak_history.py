"""Whether the interactive prompt keeps the lines a person types, and where: their choice, off by default.

What a person types to speak is private conversation. Lines are kept (for Up/Down across
sessions) only after the person turns it on: ``voicebank speak --history on``, stored as
``speak_history`` in ``settings.json`` in the data folder. Kept lines live in
``speak-history.txt`` next to it; ``--history clear`` deletes them.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from .config import data_home
from .durable import atomic_write_json, fsync_dir, read_json_dict, storage_error

SETTINGS_FILE = "settings.json"
HISTORY_FILE = "speak-history.txt"
_KEY = "speak_history"


def settings_path() -> Path:
    return data_home() / SETTINGS_FILE


def history_path() -> Path:
    """Where kept lines live (whether or not keeping is on)."""
    return data_home() / HISTORY_FILE


def history_choice() -> bool | None:
    """True or False as the person chose; None when they have not chosen (lines are not kept)."""
    value = read_json_dict(settings_path(), what="settings file").get(_KEY)
    return value if isinstance(value, bool) else None


def history_enabled() -> bool:
    return history_choice() is True


def set_history(on: bool) -> None:
    """Turn keeping typed lines on or off (other settings in the file are kept)."""
    path = settings_path()
    settings = read_json_dict(path, what="settings file")
    settings[_KEY] = bool(on)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, settings)


def clear_history() -> bool:
    """Delete the kept lines; True when there were some."""
    path = history_path()
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    except OSError as exc:
        raise storage_error(exc, path, action="delete", what="the typed-lines history") from exc
    with contextlib.suppress(OSError):
        fsync_dir(path.parent)
    return True


def unchosen_leftover() -> bool:
    """Lines kept by an earlier version (which kept them without asking) while no choice was made."""
    return history_choice() is None and history_path().exists()
