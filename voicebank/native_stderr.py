"""What C libraries (PortAudio, ALSA) print on file descriptor 2, kept off an interactive screen.

PortAudio and ALSA write their diagnostics straight to fd 2 from C, at any moment (a sound
server that dies mid-line makes them print from the audio thread). Python's own ``sys.stderr``
is not involved, so redirecting it does nothing. :class:`NativeStderr` points fd 2 at a
temporary file for as long as it is active and gives Python a ``sys.stderr`` that still
reaches the terminal; the caller says in plain words what went wrong and can show the
captured lines on request (:meth:`NativeStderr.tail`).
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import IO, Any

_KEEP_BYTES = 64 * 1024  # the most of the captured text read back


class NativeStderr:
    """Context manager: fd 2 goes to a temporary file; Python's ``sys.stderr`` stays on the terminal."""

    def __init__(self) -> None:
        self._file: IO[bytes] | None = None
        self._saved_fd = -1
        self._saved_sys: Any = None

    def __enter__(self) -> NativeStderr:
        try:
            sys.stderr.flush()
        except (AttributeError, ValueError, OSError):
            pass
        self._file = tempfile.TemporaryFile(prefix="voicebank-native-stderr-")
        self._saved_fd = os.dup(2)
        os.dup2(self._file.fileno(), 2)
        self._saved_sys = sys.stderr
        sys.stderr = open(os.dup(self._saved_fd), "w", buffering=1, encoding="utf-8", errors="backslashreplace")
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            sys.stderr.flush()
            sys.stderr.close()
        except (ValueError, OSError):
            pass
        sys.stderr = self._saved_sys
        os.dup2(self._saved_fd, 2)
        os.close(self._saved_fd)
        if self._file is not None:
            self._file.close()
            self._file = None

    def tail(self, lines: int = 5) -> list[str]:
        """The last ``lines`` non-empty lines the C libraries printed (for a 'details' view)."""
        if self._file is None:
            return []
        try:
            size = os.fstat(self._file.fileno()).st_size
            data = os.pread(self._file.fileno(), _KEEP_BYTES, max(0, size - _KEEP_BYTES))
        except OSError:
            return []
        text = data.decode("utf-8", errors="replace").splitlines()
        return [line for line in text if line.strip()][-lines:]
