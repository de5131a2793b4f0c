"""Free disk space for recording: the estimate before a session starts and the check after each take.

A take costs its spool while it is recorded (float32) and then its file in the bank
(24-bit FLAC, counted at its uncompressed size: an upper bound); a session of N minutes is estimated as N minutes of takes. Below the
*floor* (room for ``FLOOR_MINUTES`` of takes plus one longest take's spool) a session
is refused: a take that cannot be saved is a take the person has to say again. Below
the session's estimate the person is warned, with how much is needed and free.
"""

from __future__ import annotations

import errno
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import DiskFullError

TAKE_BYTES = 3  # per sample in the bank (24-bit; FLAC makes it smaller)
SPOOL_BYTES = 4  # per sample while recording (float32)
FLOOR_MINUTES = 2.0
DEFAULT_SESSION_MINUTES = 20.0
LONGEST_TAKE_S = 60.0


@dataclass(frozen=True)
class SpaceCheck:
    """Free space against what recording needs, in bytes, and what to tell the person."""

    free: int
    needed: int  # for the whole session
    floor: int  # below this, recording is refused
    bytes_per_minute: int  # of takes in the bank
    spool: int  # the longest take while it is being recorded

    @property
    def minutes_left(self) -> float:
        """Minutes of takes that still fit (after the spool of one take)."""
        return max(0.0, (self.free - self.spool) / self.bytes_per_minute)

    @property
    def level(self) -> str:
        """``ok``, ``low`` (less than the session needs) or ``full`` (below the floor)."""
        if self.free < self.floor:
            return "full"
        return "low" if self.free < self.needed else "ok"

    def message(self, folder: Path) -> str:
        free, needed = _size(self.free), _size(self.needed)
        if self.level == "full":
            return (
                f"The disk holding {folder} is nearly full: {free} free, and a recording session needs at "
                f"least {_size(self.floor)} (about {_size(self.needed)} for {self._session_words()}). "
                "Free some space (or move the bank to a bigger disk) and start again."
            )
        if self.level == "low":
            return (
                f"Disk space is low: {free} free, about {self.minutes_left:.0f} minutes of recording "
                f"(a session of {self._session_words()} needs about {needed}). Free some space soon."
            )
        return ""

    def _session_words(self) -> str:
        return f"{self.needed / self.bytes_per_minute:.0f} minutes"


def _size(n: int) -> str:
    return f"{n / 1e6:.0f} MB" if n >= 10e6 else f"{n / 1e6:.1f} MB"


def check_space(
    folder: str | os.PathLike, *, sample_rate: int, channels: int = 1, minutes: float = DEFAULT_SESSION_MINUTES
) -> SpaceCheck:
    """Free space where ``folder`` is, against a session of ``minutes`` at ``sample_rate``."""
    per_minute = int(60 * sample_rate * channels * TAKE_BYTES)
    spool = int(LONGEST_TAKE_S * sample_rate * channels * SPOOL_BYTES)
    floor = int(FLOOR_MINUTES * per_minute) + spool
    needed = max(floor, int(max(minutes, FLOOR_MINUTES) * per_minute) + spool)
    free = shutil.disk_usage(os.fspath(folder)).free
    return SpaceCheck(free=free, needed=needed, floor=floor, bytes_per_minute=per_minute, spool=spool)


def require_space(folder: Path, *, sample_rate: int, channels: int = 1,
                  minutes: float = DEFAULT_SESSION_MINUTES) -> SpaceCheck:
    """:func:`check_space`, raising :class:`DiskFullError` below the floor (before anything is recorded)."""
    space = check_space(folder, sample_rate=sample_rate, channels=channels, minutes=minutes)
    if space.level == "full":
        err = DiskFullError(space.message(folder))
        err.errno = errno.ENOSPC
        raise err
    return space
