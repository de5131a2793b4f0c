"""The interactive type-to-speak prompt (prompt_toolkit).

Enter speaks the line while you can already type the next one; Esc (or Ctrl-X) stops
speaking; Up/Down recall earlier lines; F1-F12 speak saved phrases; lines starting with
'/' are commands (/help). While you type, finished sentences and clauses are synthesized
ahead (type-ahead), so Enter mostly plays audio that is already computed.
"""

from __future__ import annotations

import sys
from typing import Any

HELP = """Type and press Enter to speak. Esc or Ctrl-X stops. Up/Down: earlier lines. Ctrl-D: quit.
F1-F12 speak saved phrases 1-12.  Commands:
  /list            saved phrases          /save [text]   save text (or the last line spoken)
  /N               speak phrase N         /del N         remove phrase N
  /msg BANK ID     save a message recorded in a bank (played back exactly as you said it)
  /stop            stop speaking          /quit          leave"""


def _handle_command(line: str, book: Any, last: str, play_phrase: Any, player: Any) -> str | None:
    """Run a '/' command; returns a message to print."""
    from voicebank.errors import VoicebankError
    from voicebank.phrases import Phrase, recorded_message

    cmd, _, arg = line[1:].strip().partition(" ")
    try:
        if cmd in ("help", "h", "?"):
            return HELP
        if cmd == "list":
            return "\n".join(f"{n:>3}  {p.label()}" for n, p in enumerate(book.phrases, 1)) or "No saved phrases yet."
        if cmd == "save":
            text = arg.strip() or last
            if not text:
                return "Nothing to save yet."
            return f"Saved as phrase {book.add(Phrase(text))}."
        if cmd == "del":
            return f"Removed: {book.remove(int(arg)).label()}"
        if cmd == "msg":
            bank, _, pid = arg.strip().partition(" ")
            return f"Saved as phrase {book.add(recorded_message(bank, pid.strip()))}."
        if cmd == "stop":
            player.stop()
            return None
        if cmd.isdigit():
            play_phrase(int(cmd))
            return None
        return f"Unknown command /{cmd}. Type /help."
    except (VoicebankError, ValueError) as exc:
        return f"error: {exc}"


def _key_bindings(player: Any, play_phrase: Any) -> Any:
    """Esc or Ctrl-X stops speaking; F1-F12 speak saved phrases."""
    from prompt_toolkit.key_binding import KeyBindings

    kb = KeyBindings()

    @kb.add("escape", eager=True)
    @kb.add("c-x")
    def _stop(event: Any) -> None:
        player.stop()

    for n in range(1, 13):

        @kb.add(f"f{n}")
        def _phrase(event: Any, n: int = n) -> None:
            try:
                play_phrase(n)
            except Exception as exc:
                event.app.output.write(f"\n{exc}\n")

    return kb


def run_interactive(engine: Any, options: Any, device: Any = None) -> None:
    """Run the type-to-speak loop until Ctrl-D or /quit."""
    from voicebank.engines import TypeAhead
    from voicebank.phrases import PhraseBook, phrase_chunks
    from voicebank.player import Player

    player = Player(device)
    book = PhraseBook()
    player.warm_up(engine.sample_rate)
    if not sys.stdin.isatty():  # piped input: speak each line, in order
        for line in sys.stdin:
            if line.strip():
                player.play(engine.stream(line, options, player.pacing()))
                player.wait()
        return

    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory
    from prompt_toolkit.patch_stdout import patch_stdout

    from voicebank.config import data_home

    def play_phrase(n: int) -> None:
        player.play(phrase_chunks(book.get(n), engine, options, player.pacing()))

    kb = _key_bindings(player, play_phrase)
    data_home().mkdir(parents=True, exist_ok=True)
    session: Any = PromptSession(
        history=FileHistory(str(data_home() / "speak-history.txt")),
        key_bindings=kb,
        bottom_toolbar=" Enter speak · Esc stop · ↑ history · F1-F12 phrases · /help ",
    )
    print(HELP)
    last = ""
    # Type-ahead needs the streaming Piper engine's planning hooks; other engines just stream.
    typing: Any = TypeAhead(engine, options) if hasattr(engine, "plan") else None
    with patch_stdout():
        if typing is not None:
            session.default_buffer.on_text_changed += lambda buf: typing.update(buf.text)
        while True:
            try:
                line = session.prompt("say> ")
            except KeyboardInterrupt:
                player.stop()
                continue
            except EOFError:
                break
            if line.strip() in ("/quit", "/exit", "/q"):
                break
            if line.startswith("/"):
                msg = _handle_command(line, book, last, play_phrase, player)
                if msg:
                    print(msg)
                continue
            if line.strip():
                last = line
                pacing = player.pacing()  # the sound card's read-ahead, measured by warm_up
                player.play(typing.speak(line, pacing) if typing is not None else engine.stream(line, options, pacing))
    if typing is not None:
        typing.close()
    player.stop()
