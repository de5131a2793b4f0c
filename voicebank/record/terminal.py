"""The raw terminal under the recorder: single key presses in, whole screens out.

Key presses are read without echo and without waiting for Enter (cbreak mode); the
screen is the terminal's alternate screen, restored on exit. When the terminal goes
away (window closed, ssh dropped) writes fail with EIO and reads return nothing: the
terminal then marks itself ``alive = False`` and every later call is a no-op, so the
recorder can finish saving instead of dying on a write.
"""

from __future__ import annotations

import os
import select
import shutil
import sys
from typing import Any, TextIO

_KEYS = {
    "\x1b[A": "up", "\x1b[B": "down", "\x1b[C": "right", "\x1b[D": "left",
    "\x1bOA": "up", "\x1bOB": "down", "\x1bOC": "right", "\x1bOD": "left",
    "\r": "enter", "\n": "enter", " ": "space", "\x7f": "backspace", "\x03": "ctrl-c", "\x04": "ctrl-d",
}
EOF = "eof"


class Terminal:
    """Key input and full-screen output on a real terminal (use as a context manager)."""

    def __init__(self, fd_in: int | None = None, out: TextIO | None = None) -> None:
        self.fd_in = sys.stdin.fileno() if fd_in is None else fd_in
        self.out = out or sys.stdout
        self.alive = True
        self._saved: Any = None
        self._pending = ""
        self.unicode = (getattr(self.out, "encoding", "") or "").lower().replace("-", "") in ("utf8", "utf_8")

    def __enter__(self) -> Terminal:
        import termios
        import tty

        try:
            self._saved = termios.tcgetattr(self.fd_in)
            tty.setcbreak(self.fd_in)
        except termios.error:
            self._saved = None
        self.write("\x1b[?1049h\x1b[?25l\x1b[H\x1b[2J")
        return self

    def __exit__(self, *exc: object) -> None:
        self.restore()

    def restore(self) -> None:
        """Give the terminal back as it was (safe to call twice, or after a hang-up)."""
        self.write("\x1b[0m\x1b[?25h\x1b[?1049l")
        if self._saved is not None:
            import termios

            try:
                termios.tcsetattr(self.fd_in, termios.TCSADRAIN, self._saved)
            except (termios.error, OSError):
                pass
            self._saved = None

    def size(self) -> tuple[int, int]:
        """(columns, rows)."""
        try:
            s = os.get_terminal_size(self.out.fileno())
            return s.columns, s.lines
        except (OSError, ValueError, AttributeError):
            s = shutil.get_terminal_size((100, 30))
            return s.columns, s.lines

    def write(self, text: str) -> None:
        if not self.alive:
            return
        try:
            self.out.write(text)
            self.out.flush()
        except (OSError, ValueError):  # EIO after a hang-up; closed stream
            self.alive = False

    def draw(self, lines: list[str]) -> None:
        """Replace the whole screen with ``lines`` (which may hold ANSI styles)."""
        self.write("\x1b[H" + "\x1b[K\r\n".join(lines) + "\x1b[K\x1b[J")

    def read_key(self, timeout: float) -> str | None:
        """The next key ('a', 'space', 'enter', 'up'...), None on timeout, ``EOF`` when input is gone."""
        if not self._pending and self.alive:
            try:
                ready, _, _ = select.select([self.fd_in], [], [], timeout)
            except (OSError, ValueError):
                self.alive = False
                return EOF
            if not ready:
                return None
            try:
                data = os.read(self.fd_in, 64)
            except OSError:
                data = b""
            if not data:
                self.alive = False
                return EOF
            self._pending += data.decode("utf-8", errors="replace")
        if not self._pending:
            return EOF if not self.alive else None
        return self._take_key()

    def _take_key(self) -> str:
        buf = self._pending
        if buf.startswith("\x1b"):
            for seq in sorted((k for k in _KEYS if k.startswith("\x1b")), key=len, reverse=True):
                if buf.startswith(seq):
                    self._pending = buf[len(seq):]
                    return _KEYS[seq]
            self._pending = buf[1:]
            return "esc"
        self._pending = buf[1:]
        ch = buf[0]
        return _KEYS.get(ch, ch.lower() if ch.isalpha() else ch)
