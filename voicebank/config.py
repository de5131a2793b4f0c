"""Small settings shared across voicebank: where user data lives.

Imports nothing of ours.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "voicebank"


def data_home() -> Path:
    """The one folder for user data (voices, default banks, caches).

    ``VOICEBANK_HOME`` overrides the platform's user data folder.
    """
    env = os.environ.get("VOICEBANK_HOME")
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def voices_dir() -> Path:
    return data_home() / "voices"


def cache_dir() -> Path:
    return data_home() / "cache"
