"""``voicebank speak``: type to speak, or speak one text (to the speakers or to a file)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from voicebank.errors import UsageError


def _engine(voice: Optional[str], threads: int):  # type: ignore[no-untyped-def]
    from voicebank.engines import load_engine

    return load_engine(voice, threads=threads)


def _options(speed: float):  # type: ignore[no-untyped-def]
    from voicebank.engines import SynthesisOptions

    if not 0.25 <= speed <= 4.0:
        raise UsageError("--speed must be between 0.25 and 4.")
    return SynthesisOptions(length_scale=None if speed == 1.0 else 1.0 / speed)


def _write(chunks, out: Path) -> None:  # type: ignore[no-untyped-def]
    from voicebank.encode import write_audio

    seconds = write_audio(chunks, out)
    if seconds == 0:
        typer.echo("Nothing to say: the text holds no words, so no file was written.")
    else:
        typer.echo(f"Wrote {out} ({seconds:.2f} s of speech).")


def speak(
    text: Optional[str] = typer.Argument(
        None, help="What to say ('-' reads standard input). Leave out for the interactive type-to-speak prompt."
    ),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="Write a file instead of playing: .wav, .flac, .mp3, .opus, .m4a or .pcm (raw 16-bit)."
    ),
    voice: Optional[str] = typer.Option(
        None, "--voice", "-v", help="A voice folder, an .onnx file, a voice name, or 'joe' (the stock voice)."
    ),
    speed: float = typer.Option(1.0, help="Speaking speed: 1.0 normal, 1.2 faster, 0.8 slower."),
    threads: int = typer.Option(1, help="CPU threads for synthesis (1 is fastest to first sound on a busy laptop)."),
    device: Optional[str] = typer.Option(None, help="Output device index or name (python -m sounddevice lists them)."),
    phrase: Optional[int] = typer.Option(None, "--phrase", "-p", help="Speak saved phrase N instead of TEXT."),
) -> None:
    """Speak text in a voice: plays at once (sentence by sentence, first sound within a fraction of a second).

    Examples:

      voicebank speak "Hello, my name is Sam and this is my voice."

      voicebank speak "See you at 3:30 pm on March 3rd." --out note.mp3

      voicebank speak            (interactive: type, Enter speaks, Esc stops, Up recalls, F1-F12 saved phrases)
    """
    from voicebank.audio import UNPACED
    from voicebank.phrases import PhraseBook, phrase_chunks
    from voicebank.player import Player, play_blocking

    if out is not None:  # an unknown extension is refused before the voice loads
        from voicebank.encode import audio_format

        audio_format(out)
    engine = _engine(voice, threads)
    opts = _options(speed)
    player = Player(device) if out is None else None
    if phrase is not None:
        chunks = phrase_chunks(PhraseBook().get(phrase), engine, opts, player.pacing() if player is not None else UNPACED)
    elif text is None:
        from .speak_interactive import run_interactive

        run_interactive(engine, opts, device)
        return
    else:
        if text == "-":
            text = sys.stdin.read()
        # the consumer paces the stream: the speakers by their read-ahead, a file not at all
        chunks = engine.stream(text, opts, player.pacing() if player is not None else UNPACED)
    if out is not None:
        _write(chunks, out)
        return
    stats = play_blocking(chunks, player)
    if stats.frames_played == 0:
        typer.echo("Nothing to say: the text holds no words.")
    elif stats.first_audio_latency is not None:
        typer.echo(f"first sound after {stats.first_audio_latency * 1000:.0f} ms", err=True)


phrases_app = typer.Typer(help="Saved phrases for type-to-speak (also usable as F1-F12 in the interactive prompt).", no_args_is_help=True)


@phrases_app.command("add")
def phrases_add(
    text: Optional[str] = typer.Argument(None, help="The phrase text."),
    bank: Optional[Path] = typer.Option(None, help="With --message: the bank holding the recording."),
    message: Optional[str] = typer.Option(None, help="A banked message's prompt id: play your recording verbatim."),
) -> None:
    """Save a phrase: typed text, or a message recorded in your bank."""
    from voicebank.phrases import Phrase, PhraseBook, recorded_message

    book = PhraseBook()
    if message:
        if bank is None:
            raise UsageError("--message needs --bank (the bank where you recorded it).")
        n = book.add(recorded_message(str(bank), message))
    elif text:
        n = book.add(Phrase(text))
    else:
        raise UsageError("Give the phrase text, or --bank and --message for a recorded message.")
    typer.echo(f"Saved as phrase {n}: {book.get(n).label()}")


@phrases_app.command("list")
def phrases_list() -> None:
    """List saved phrases with their numbers."""
    from voicebank.phrases import PhraseBook

    for n, p in enumerate(PhraseBook().phrases, 1):
        typer.echo(f"{n:>3}  {p.label()}")


@phrases_app.command("remove")
def phrases_remove(number: int = typer.Argument(..., help="Phrase number.")) -> None:
    """Remove a saved phrase."""
    from voicebank.phrases import PhraseBook

    gone = PhraseBook().remove(number)
    typer.echo(f"Removed: {gone.label()}")


def register(app: typer.Typer) -> None:
    app.command("speak")(speak)
    app.add_typer(phrases_app, name="phrases")
