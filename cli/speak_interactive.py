"""The interactive type-to-speak prompt (prompt_toolkit): a thin screen over the speech queue.

Enter queues the line behind the one playing (you can type the next while it plays);
Esc (or Ctrl-X, /stop) stops speaking and drops what waits; Up/Down recall earlier lines;
F1-F12 speak saved phrases and show what they said; lines starting with '/' are commands
(/help). The bottom bar shows what is playing and what waits. When the sound output fails
the prompt says so at once; the lines not heard are kept and spoken when sound is back
(voicebank.speech_queue), or shown in large letters (/show) or dropped (Esc, /drop).
While you type, finished sentences and clauses are synthesized ahead (type-ahead).
"""

from __future__ import annotations

import shutil
import sys
from typing import Any

HELP = """Type and press Enter to speak; lines wait their turn. Esc or Ctrl-X stops and drops what waits.
Up/Down: earlier lines. F1-F12 speak saved phrases 1-12. Ctrl-D: quit.  Commands:
  /list            saved phrases          /save [text]   save text (or the last line spoken)
  /N               speak phrase N         /del N         remove phrase N
  /msg BANK ID     save a message recorded in a bank (played back exactly as you said it)
  /show            the lines not yet spoken (or the last one) in large letters
  /write FILE      save them as audio instead (.wav, .mp3, .m4a ...), to play elsewhere
  /stop, /drop     stop speaking and drop what waits
  /history on|off|clear   keep the lines you type for next time (off unless you turn it on)
  /quit            leave"""


def _big(text: str) -> str:
    """``text`` in large letters for a partner to read (plain text when it cannot fit)."""
    from voicebank.record.bigtext import render

    width = max(20, shutil.get_terminal_size((80, 24)).columns - 2)
    rows = render(text, width)
    return "\n".join(rows) if rows else text


class _Prompt:
    """The prompt's side: turns keys and commands into queue calls and queue events into words."""

    def __init__(self, engine: Any, options: Any, speech: Any, book: Any, typing: Any, wrap: Any = None) -> None:
        self.engine, self.options, self.speech, self.book, self.typing = engine, options, speech, book, typing
        self.wrap = wrap or (lambda chunks: chunks)  # the watermark on what type-ahead says
        self.last = ""
        self.session: Any = None

    def say_line(self, line: str) -> None:
        from voicebank.speech_queue import Utterance

        self.last = line
        if self.typing is not None:
            self.speech.say(Utterance(line, lambda pacing: self.wrap(self.typing.speak(line, pacing))))
        else:
            self.speech.say(Utterance(line, lambda pacing: self.engine.stream(line, self.options, pacing)))

    def say_phrase(self, n: int) -> str:
        """Queue saved phrase ``n``; returns what to show (the words it says, and any notice)."""
        from voicebank.speech_queue import Utterance

        found = self.book.resolve(n)
        text = found.phrase.text
        self.speech.say(Utterance(text, lambda pacing: found.chunks(self.engine, self.options, pacing), label=f"F{n}"))
        shown = f"F{n}: {text}" + ("  [recording]" if found.recording is not None else "")
        return shown + (f"\n{found.notice}" if found.notice else "")

    def on_event(self, event: Any) -> None:
        """Queue events, in words (called from the queue's thread; printing goes above the prompt)."""
        n = len(event.kept)
        lines = f"{n} line" + ("" if n == 1 else "s")
        if event.kind == "device_lost":
            print(f"\n⚠ NO SOUND. {event.message}\n  Not heard: {lines}, kept; they will be said when sound is back "
                  f"(trying again every second). Esc or /drop drops them; /show shows them in large letters; "
                  f"/write FILE saves them as audio.")
        elif event.kind == "device_back":
            print(f"Sound is back: saying the {lines} kept." if n else "Sound is back.")
        elif event.kind in ("failed", "dropped"):
            print(event.message)
        self.invalidate()

    def invalidate(self) -> None:
        app = getattr(self.session, "app", None)
        if app is not None and app.is_running:
            app.invalidate()

    def toolbar(self) -> str:
        state = self.speech.state()
        if not state.device_ok:
            return f" ⚠ NO SOUND - {len(state.queued)} kept, trying again · Esc drop · /show large "
        if state.playing is not None:
            label = f"{state.playing.label}: " if state.playing.label else ""
            waiting = f" · {len(state.queued)} waiting" if state.queued else ""
            return f" ▶ Speaking: {label}{_short(state.playing.text)}{waiting} · Esc stop "
        return " Enter speak · Esc stop · ↑ history · F1-F12 phrases · /help "

    def _unheard(self) -> list[str]:
        """The lines not yet heard, else the last one said (for /show and /write)."""
        return [u.text for u in self.speech.unspoken()] or ([self.last] if self.last else [])

    def show(self) -> str:
        texts = self._unheard()
        return "\n\n".join(_big(t) + "\n" + t for t in texts) or "Nothing said yet."

    def write(self, path: str) -> str:
        """The unspoken lines (or the last one) as an audio file, for when these speakers fail."""
        from itertools import chain
        from pathlib import Path

        from voicebank.audio import UNPACED
        from voicebank.encode import check_output_path, write_audio

        if not path:
            return "Give a file name: /write message.wav"
        out = Path(path).expanduser()
        check_output_path(out)
        texts = self._unheard()
        if not texts:
            return "Nothing said yet."
        seconds = write_audio(chain.from_iterable(self.engine.stream(t, self.options, UNPACED) for t in texts), out)
        return f"Wrote {out} ({seconds:.1f} s: {len(texts)} line{'' if len(texts) == 1 else 's'})."

    def history(self, arg: str) -> str:
        from prompt_toolkit.history import FileHistory, InMemoryHistory

        from voicebank.speak_history import clear_history, history_path, set_history

        if arg == "clear":
            return "Deleted the kept lines." if clear_history() else "No typed lines were kept."
        if arg not in ("on", "off"):
            return "Use /history on, /history off or /history clear."
        set_history(arg == "on")
        history = FileHistory(str(history_path())) if arg == "on" else InMemoryHistory()
        self.session.history = self.session.default_buffer.history = history
        if arg == "on":
            return f"Lines you type from now on are kept in {history_path()}."
        return "Lines you type are not kept. /history clear deletes those kept before."

    def command(self, line: str) -> str | None:
        """Run a '/' command; returns a message to print."""
        from voicebank.errors import VoicebankError
        from voicebank.phrases import Phrase, recorded_message

        cmd, _, arg = line[1:].strip().partition(" ")
        arg = arg.strip()
        try:
            if cmd in ("help", "h", "?"):
                return HELP
            if cmd == "list":
                return "\n".join(f"{n:>3}  {p.label()}" for n, p in enumerate(self.book.phrases, 1)) or "No saved phrases yet."
            if cmd == "save":
                text = arg or self.last
                return f"Saved as phrase {self.book.add(Phrase(text))}." if text else "Nothing to save yet."
            if cmd == "del":
                return f"Removed: {self.book.remove(int(arg)).label()}"
            if cmd == "msg":
                bank, _, pid = arg.partition(" ")
                return f"Saved as phrase {self.book.add(recorded_message(bank, pid.strip()))}."
            if cmd in ("stop", "drop"):
                self.speech.stop()
                return None
            if cmd == "show":
                return self.show()
            if cmd == "write":
                return self.write(arg)
            if cmd == "history":
                return self.history(arg.lower())
            if cmd.isdigit():
                return self.say_phrase(int(cmd))
            return f"Unknown command /{cmd}. Type /help."
        except (VoicebankError, ValueError) as exc:
            return f"error: {exc}"


def _short(text: str, width: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _key_bindings(prompt: _Prompt) -> Any:
    """Esc or Ctrl-X stops speaking and drops what waits; F1-F12 speak saved phrases, shown on screen."""
    from prompt_toolkit.key_binding import KeyBindings

    kb = KeyBindings()

    @kb.add("escape", eager=True)
    @kb.add("c-x")
    def _stop(event: Any) -> None:
        prompt.speech.stop()

    for n in range(1, 13):

        @kb.add(f"f{n}")
        def _phrase(event: Any, n: int = n) -> None:
            try:
                print(prompt.say_phrase(n))
            except Exception as exc:
                print(f"error: {exc}")

    return kb


def _history() -> tuple[Any, str]:
    """The prompt's history as the person chose (kept in a file only when turned on), and a note."""
    from prompt_toolkit.history import FileHistory, InMemoryHistory

    from voicebank.speak_history import history_enabled, history_path, unchosen_leftover

    if history_enabled():
        history_path().parent.mkdir(parents=True, exist_ok=True)
        return FileHistory(str(history_path())), f"Lines you type are kept in {history_path()} (/history off stops it)."
    note = "Lines you type are not kept after you leave (/history on keeps them)."
    if unchosen_leftover():
        note += (f"\nAn earlier version kept your typed lines in {history_path()} without asking: "
                 "/history clear deletes them, /history on keeps them and goes on keeping.")
    return InMemoryHistory(), note


def _read_lines(prompt: _Prompt, session: Any) -> None:
    from prompt_toolkit.patch_stdout import patch_stdout

    with patch_stdout():
        if prompt.typing is not None:
            session.default_buffer.on_text_changed += lambda buf: prompt.typing.update(buf.text)
        while True:
            try:
                line = session.prompt("say> ")
            except KeyboardInterrupt:
                prompt.speech.stop()
                continue
            except EOFError:
                break
            if line.strip() in ("/quit", "/exit", "/q"):
                break
            if line.startswith("/"):
                msg = prompt.command(line)
                if msg:
                    print(msg)
            elif line.strip():
                prompt.say_line(line)


def run_interactive(engine: Any, options: Any, device: Any = None, watermark: bool = True) -> None:
    """Run the type-to-speak loop until Ctrl-D or /quit."""
    from voicebank.errors import AudioDeviceError, UsageError
    from voicebank.native_stderr import NativeStderr
    from voicebank.player import Player

    if not sys.stdin.isatty():  # `voicebank speak` reads piped text itself; this needs a terminal
        raise UsageError("The type-to-speak prompt needs a terminal; to speak piped text use: voicebank speak -")
    player = Player(device)
    with NativeStderr():  # PortAudio/ALSA's C messages stay off the screen; the prompt says what happened
        try:
            player.warm_up(engine.sample_rate)
        except AudioDeviceError:
            print("⚠ NO SOUND: the speakers cannot be opened. What you type is kept and said when sound works.")
        _session(engine, options, player, watermark)


def _session(engine: Any, options: Any, player: Any, watermark: bool = True) -> None:
    from prompt_toolkit import PromptSession

    from voicebank.engines import TypeAhead
    from voicebank.phrases import PhraseBook
    from voicebank.speech_queue import SpeechQueue

    # Type-ahead needs the streaming Piper engine's planning hooks; other engines just stream.
    typing: Any = TypeAhead(engine, options) if hasattr(engine, "plan") else None
    wrap = None
    if watermark:  # everything said is marked; type-ahead plans on the raw engine, its audio marked as it streams
        from voicebank.engines.marked import MarkedEngine
        from voicebank.provenance import watermark_core
        from voicebank.provenance.watermark import mark_stream

        if not watermark_core.ready_soon():  # else the first line said would wait seconds for it
            print("Getting the watermark ready (the first time on this machine only)...", flush=True)
            watermark_core.load()
        engine, wrap = MarkedEngine(engine), mark_stream
    prompt = _Prompt(engine, options, None, PhraseBook(), typing, wrap)
    speech = prompt.speech = SpeechQueue(player, prompt.on_event, rate=engine.sample_rate)
    history, note = _history()
    prompt.session = PromptSession(history=history, key_bindings=_key_bindings(prompt),
                                   bottom_toolbar=prompt.toolbar, refresh_interval=0.25)
    print(HELP)
    print(note)
    try:
        _read_lines(prompt, prompt.session)
        if speech.unspoken() and speech.state().device_ok:
            print("Finishing what waits to be said (Ctrl-C stops)...")
            speech.wait_idle()
    except KeyboardInterrupt:
        pass
    finally:
        left = speech.unspoken()
        speech.close()
        if typing is not None:
            typing.close()
    if left:
        print(f"Not said: {len(left)} line(s): " + " / ".join(u.text for u in left))
