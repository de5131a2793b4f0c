"""ACX's audio checks (RMS, peak, noise floor) measured on an encoded file, per file and per chapter mark.

ACX (Audible's Audiobook Creation Exchange) rejects a file whose RMS is outside -23…-18 dB,
whose peaks pass -3 dBFS or whose noise floor (the quietest half second) is above -60 dB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

RMS_RANGE_DB = (-23.0, -18.0)
PEAK_MAX_DB = -3.0
NOISE_FLOOR_MAX_DB = -60.0
FLOOR_WINDOW_S = 0.5


def acx_report(path: str | Path) -> dict[str, Any]:
    """The ACX figures of an encoded file (decoded by ffmpeg), pass/fail with reasons, and a table per chapter."""
    raise NotImplementedError
