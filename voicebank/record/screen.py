"""What the terminal recorder shows: the prompt in large letters, the take's verdict, progress.

:class:`RecorderScreen` only reads the app's state and returns lines of text (with ANSI
styles), each fitted to the terminal's width so nothing wraps and scrolls the screen.
"""

from __future__ import annotations

import re
import textwrap
import time
from typing import TYPE_CHECKING

from . import bigtext
from .session import SavedTake

if TYPE_CHECKING:
    from .tui import RecorderApp

KEY_HELP = [
    ("SPACE / ENTER", "start or stop recording (hands-free mode: pause or resume listening)"),
    ("p", "play the take back (p again stops)"),
    ("a", "accept: keep this take and go to the next prompt"),
    ("r", "redo: record this prompt again (the take so far is kept, not used)"),
    ("s", "skip this prompt (it will not come back by itself)"),
    ("l", "later: this prompt comes back at the end"),
    ("b", "back to the previous prompt"),
    ("n", "next prompt, leaving this one as it is"),
    ("c", "carry on after a break reminder"),
    ("?", "show or hide this help"),
    ("q", "quit (everything recorded is already saved)"),
]
TIPS = [
    "Sit upright and comfortable, in a quiet room with soft furnishings; switch off fans and the TV.",
    "Keep the microphone at the same distance every time: a headset mic a thumb's width from the",
    "corner of your mouth, or a desk mic a hand-span (15-20 cm) away, a little to one side.",
    "Read each sentence the way you would say it. Short sessions (20-30 minutes) at the time of day",
    "your voice is strongest are best; stop when you feel tired. Every take is saved the moment you stop.",
]
_STYLE = {"bold": "\x1b[1m", "dim": "\x1b[2m", "red": "\x1b[1;31m", "green": "\x1b[1;32m",
          "yellow": "\x1b[1;33m", "cyan": "\x1b[1;36m", "inverse": "\x1b[7m", "reset": "\x1b[0m"}
_NOT_READY_S = 6.0  # the microphone has sent nothing for this long: say so


def _s(style: str, text: str) -> str:
    return f"{_STYLE[style]}{text}{_STYLE['reset']}"


_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
KEYS_LINE = ["SPACE record/stop", "p play", "a accept", "r redo", "s skip", "b back", "l later", "n next",
             "? help", "q quit"]


def _fit(line: str, cols: int) -> str:
    """Cut a line to fewer than ``cols`` visible characters (styles kept), so nothing wraps."""
    out: list[str] = []
    seen, i = 0, 0
    while i < len(line):
        m = _ANSI.match(line, i)
        if m:
            out.append(m.group())
            i = m.end()
            continue
        if seen >= cols - 1:
            break
        out.append(line[i])
        seen += 1
        i += 1
    return "".join(out) + (_STYLE["reset"] if "\x1b" in line else "")


def _join_lines(parts: list[str], cols: int, style: str | None = None) -> list[str]:
    """Join ``parts`` with " · " into indented lines that fit ``cols``."""
    lines: list[str] = []
    current = ""
    for part in parts:
        candidate = f"{current} · {part}" if current else part
        if current and len(candidate) + 3 > cols:
            lines.append(current)
            current = part
        else:
            current = candidate
    if current:
        lines.append(current)
    return ["  " + (_s(style, line) if style else line) for line in lines]


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, max(20, width)) or [""]


class RecorderScreen:
    """Lines for the recorder's screen, from the state of a :class:`RecorderApp`."""

    def __init__(self, app: RecorderApp) -> None:
        self.app = app

    def lines(self, cols: int, rows: int) -> list[str]:
        """The whole screen for a terminal of ``cols`` x ``rows``, each line fitted to the width."""
        lines = self._help_lines(cols) if self.app.help else self._screen(cols, rows)
        return [_fit(line, cols) for line in lines[:rows]]

    def _header(self, cols: int) -> str:
        s = self.app.session
        mode = "hands-free" if self.app.auto else "push-to-talk"
        where = f"prompt {s.position(s.current)} of {len(s.prompts)} ({s.current.id})" if s.current else "all done"
        left = f" voicebank record · {self.app.bank_name} · {where}"
        return _s("inverse", (left + " " * cols)[: max(0, cols - len(mode) - 2)] + mode + "  ")

    def _prompt_lines(self, cols: int, room: int) -> list[str]:
        p = self.app.session.current
        if p is None:
            return ["", _s("green", "  Every prompt is recorded. Thank you!"), "",
                    "  Press q to finish. Press b to go back and listen to a prompt."]
        width = cols - 4
        plain = _wrap(p.text, width - 2)
        if self.app.term.unicode:
            big = bigtext.render(p.text, width)
            if big is not None and len(big) + len(plain) + 1 <= room:  # big letters and the exact text
                return ["  " + _s("bold", line) for line in big] + [""] + ["  " + line for line in plain]
            big = bigtext.render(p.text, width, gap=0)
            if big is not None and len(big) <= room:  # a small screen: big letters only
                return ["  " + _s("bold", line) for line in big]
        return [item for line in _wrap(p.text, width) for item in ("  " + _s("bold", line), "")][:-1]

    def _prompt_state(self) -> str:
        s = self.app.session
        p = s.current
        if p is None:
            return ""
        notes = []
        chosen = s.chosen_take(p)
        if chosen is not None:
            notes.append(f"already recorded: {chosen.id} is used")
        flag = s.flag_of(p)
        if flag and chosen is None:
            notes.append("marked for later" if flag == "later" else "skipped before")
        kept = len(s.takes_of(p)) - (1 if s.take is not None else 0)
        if kept > 0 and chosen is None:
            notes.append(f"{kept} earlier take{'s' if kept > 1 else ''} kept")
        if p.category:
            notes.insert(0, p.category)
        return "  " + _s("dim", " · ".join(notes)) if notes else ""

    def _status_lines(self, cols: int) -> list[str]:
        rec, s = self.app.recorder, self.app.session
        if self.app.busy:
            return ["  " + _s("yellow", self.app.busy)]
        if rec.state == "recording":
            level = max(-60.0, min(0.0, rec.level_db))
            filled = round((level + 60.0) / 60.0 * 20)
            bar = "█" * filled + "·" * (20 - filled) if self.app.term.unicode else "#" * filled + "." * (20 - filled)
            return ["  " + _s("red", "● RECORDING") + f"  {rec.recorded_seconds:4.1f} s   [{bar}] {level:4.0f} dB"
                    + "   " + _s("dim", "SPACE stops")]
        if self.app.player.playing:
            return ["  " + _s("green", "▶ Playing") + _s("dim", "   p stops")]
        lines = []
        if not rec.ready and time.monotonic() - self.app.opened_at > _NOT_READY_S:
            lines.append("  " + _s("red", f"No sound is coming from the microphone ({rec.device_name}). "
                                          "Check that it is plugged in and not muted."))
        elif not rec.ready:
            lines.append("  " + _s("dim", "Starting the microphone..."))
        if rec.state == "armed":
            lines.append("  " + _s("cyan", "Listening... start speaking when you are ready.")
                         + _s("dim", "   SPACE pauses"))
        elif s.take is not None:
            lines += self._qc_lines(s.take, cols)
        elif s.current is None:
            pass
        elif self.app.auto:
            lines.append("  " + _s("dim", "Paused. Press SPACE to listen, then read the sentence."))
        elif rec.ready:
            lines.append("  " + _s("bold", "Press SPACE to record")
                         + _s("dim", ", read the sentence, then SPACE again to stop."))
        return lines or [""]

    def _qc_lines(self, saved: SavedTake, cols: int) -> list[str]:
        verdict = saved.verdict
        head, hints = {
            "pass": (_s("green", "✔ Good take."), ["a keeps it", "r records again", "p plays it"]),
            "warn": (_s("yellow", "⚠ Usable, with a note."), ["a keeps it", "r records again", "p plays it"]),
            "fail": (_s("red", "✖ Better record this one again."), ["r records again", "a keeps it anyway",
                                                                    "p plays it"]),
        }.get(verdict, (_s("yellow", "? The quality check could not run: listen to it."),
                        ["p plays it", "a keeps it", "r records again"]))
        lines = ["  " + head + _s("dim", f"   ({saved.take.id}, {saved.take.duration:.1f} s, saved)")]
        for check in saved.problems[:3]:
            for i, line in enumerate(_wrap(check.message, cols - 8)):
                lines.append(("    - " if i == 0 else "      ") + line)
        if self.app.capture_note:
            lines += ["    " + line for line in _wrap(self.app.capture_note, cols - 6)]
        return lines + _join_lines(hints, cols, "bold")

    def _progress_lines(self, cols: int) -> list[str]:
        pr = self.app.session.progress()
        parts = [f"Done {pr.done} of {pr.total}", f"{pr.speech_minutes:.1f} min of speech"]
        if pr.coverage is not None:
            parts.append(f"sound coverage {100 * pr.coverage:.0f}%")
        if pr.later:
            parts.append(f"{pr.later} for later")
        parts.append(f"session {int(pr.session_seconds // 60)} min")
        if pr.next_goal:
            parts.append(f"next goal {pr.next_goal} prompts")
        return _join_lines(parts, cols)

    def _break_lines(self, cols: int) -> list[str]:
        if not self.app.session.break_due():
            return []
        minutes = f"{self.app.session.break_s / 60:g}"
        text = (f"You have been recording for {minutes} minutes. Time for a break: rest your voice, "
                "have a drink of water. Press c to carry on, or q to stop for today (everything is saved).")
        return ["  " + _s("yellow", line) for line in _wrap(text, cols - 4)]

    def _screen(self, cols: int, rows: int) -> list[str]:
        status = self._status_lines(cols)
        message = [] if not self.app.message else [
            "  " + _s(self.app.message_style, line) for line in _wrap(self.app.message, cols - 4)]
        breaks = self._break_lines(cols)
        keys = _join_lines(KEYS_LINE, cols, "dim")
        bottom = [""] + status + [""] + message + breaks + [""] + self._progress_lines(cols) + keys
        top = [self._header(cols), self._prompt_state(), ""]
        room = max(3, rows - len(top) - len(bottom))
        body = self._prompt_lines(cols, room)[:room]
        pad = max(0, room - len(body))
        return top + [""] * (pad // 2) + body + [""] * (pad - pad // 2) + bottom

    def _help_lines(self, cols: int) -> list[str]:
        lines = [self._header(cols), "", "  " + _s("bold", "Keys"), ""]
        lines += [f"  {_s('bold', k):<26} {what}" for k, what in KEY_HELP]
        lines += ["", "  " + _s("bold", "Recording well"), ""] + ["  " + t for t in TIPS]
        return lines + ["", _s("dim", "  Press any key to go back.")]
