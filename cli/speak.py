"""``voicebank speak``: type to speak, or speak one text (to the speakers or to a file)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from voicebank.errors import UsageError


def _engine(voice: Optional[str], threads: int):  # type: ignore[no-untyped-def]
    from voicebank.engines import load_engine
    from voicebank.errors import CorruptFileError, LexiconError

    try:
        return load_engine(voice, threads=threads)
    except (CorruptFileError, LexiconError) as exc:  # a damaged lexicon must not silence the person
        from voicebank.text import Lexicon

        typer.echo(f"Note: {exc} Speaking without your pronunciations until it is fixed.", err=True)
        return load_engine(voice, threads=threads, lexicon=Lexicon())


def _marked(engine, watermark: bool):  # type: ignore[no-untyped-def]
    """The engine whose audio carries the watermark (docs/watermark.md), unless the person turned it off."""
    if not watermark:
        return engine
    from voicebank.engines.marked import MarkedEngine

    return MarkedEngine(engine)


def _options(speed: float):  # type: ignore[no-untyped-def]
    from voicebank.engines import SynthesisOptions

    if not 0.25 <= speed <= 4.0:
        raise UsageError("--speed must be between 0.25 and 4.")
    return SynthesisOptions(length_scale=None if speed == 1.0 else 1.0 / speed)


def _text_given(text: Optional[str], phrase: Optional[int], out: Optional[Path]) -> Optional[str]:
    """The text to say: the argument, or standard input ('-', or piped in); None: a phrase or the prompt."""
    piped = sys.stdin is not None and not sys.stdin.isatty()
    if phrase is not None:
        if text is not None:
            raise UsageError("Give the text to say or --phrase N, not both.")
        return None
    if text == "-" or (text is None and piped):
        return sys.stdin.read()
    if text is None and out is not None:
        raise UsageError(
            "--out writes the text you give: voicebank speak \"Hello.\" --out hello.wav "
            "(or pipe the text in). The interactive prompt only speaks aloud."
        )
    return text


def _history(choice: str, alone: bool) -> None:
    """--history on|off|clear: the person's choice to keep what they type (voicebank.speak_history)."""
    from voicebank.speak_history import clear_history, history_path, set_history

    if not alone:
        raise UsageError("--history changes a setting and says nothing: give it alone, e.g. voicebank speak --history on")
    choice = choice.strip().lower()
    if choice == "clear":
        gone = clear_history()
        typer.echo(f"Deleted the kept lines ({history_path()})." if gone else "No typed lines were kept; nothing to delete.")
    elif choice in ("on", "off"):
        set_history(choice == "on")
        if choice == "on":
            typer.echo(f"Lines you type will be kept in {history_path()}. 'voicebank speak --history off' stops it.")
        else:
            typer.echo("Lines you type are not kept. 'voicebank speak --history clear' deletes those kept before.")
    else:
        raise UsageError(f"--history takes on, off or clear, not {choice!r}.")


def _check_out(out: Optional[Path], device: Optional[str]) -> None:
    """A file that cannot be written, or options that contradict it, are refused before the voice loads."""
    if out is None:
        return
    from voicebank.encode import check_output_path

    check_output_path(out)
    if device is not None:
        raise UsageError("--device picks the speakers, but --out writes a file and plays nothing: give one of them.")


def _player(device: Optional[str]):  # type: ignore[no-untyped-def]
    from voicebank.player import Player

    return Player(device)


def _play(chunks, player) -> None:  # type: ignore[no-untyped-def]
    from voicebank.player import play_blocking

    stats = play_blocking(chunks, player)
    if stats.frames_played == 0:
        typer.echo("Nothing to say: the text holds no words.")
    elif stats.first_audio_latency is not None:
        typer.echo(f"first sound after {stats.first_audio_latency * 1000:.0f} ms", err=True)


def _write(chunks, out: Path, voice: Optional[str] = None) -> None:  # type: ignore[no-untyped-def]
    from voicebank.encode import write_audio

    seconds = write_audio(chunks, out)
    if seconds == 0:
        typer.echo("Nothing to say: the text holds no words, so no file was written.")
    else:
        from voicebank.errors import MissingDependencyError
        from voicebank.provenance.stamp import provenance_for, stamp_file

        try:  # tags saying synthetic + which voice, and a signed sidecar
            stamp_file(out, provenance_for(voice))
        except MissingDependencyError as exc:
            typer.echo(f"Note: {out} is not tagged as synthetic speech: {exc}", err=True)
        typer.echo(f"Wrote {out} ({seconds:.2f} s of speech).")


def speak(
    text: Optional[str] = typer.Argument(
        None, help="What to say ('-', or text piped in, reads standard input). Leave out for the interactive type-to-speak prompt."
    ),
    out: Optional[Path] = typer.Option(
        None, "--out", "-o", help="Write a file instead of playing: .wav, .flac, .mp3, .opus, .m4a or .pcm (raw 16-bit)."
    ),
    voice: Optional[str] = typer.Option(
        None, "--voice", "-v", help="A voice folder, an .onnx file, a voice name, or 'joe' (the stock voice)."
    ),
    speed: float = typer.Option(1.0, help="Speaking speed: 1.0 normal, 1.2 faster, 0.8 slower."),
    threads: int = typer.Option(1, help="CPU threads for synthesis (1 is fastest to first sound on a busy laptop)."),
    device: Optional[str] = typer.Option(None, help="Output device: a number or part of its name ('voicebank record --list-devices' lists them)."),
    phrase: Optional[int] = typer.Option(None, "--phrase", "-p", help="Speak saved phrase N instead of TEXT."),
    history: Optional[str] = typer.Option(
        None, "--history", help="Keep the lines typed in the interactive prompt (Up recalls them next time): "
        "on, off, or clear (delete those kept). Off unless you turn it on."
    ),
    watermark: bool = typer.Option(
        True, "--watermark/--no-watermark", help="Mark the audio as synthetic with an inaudible watermark "
        "('voicebank verify FILE' finds it; docs/watermark.md). On unless you turn it off."
    ),
) -> None:
    """Speak text in a voice: plays at once (sentence by sentence, first sound within a fraction of a second).

    Examples:

      voicebank speak "Hello, my name is Sam and this is my voice."

      voicebank speak "See you at 3:30 pm on March 3rd." --out note.mp3

      voicebank speak            (interactive: type, Enter speaks, Esc stops, Up recalls, F1-F12 saved phrases)
    """
    from voicebank.audio import UNPACED

    if history is not None:
        return _history(history, alone=text is None and out is None and phrase is None)
    text = _text_given(text, phrase, out)
    opts = _options(speed)
    _check_out(out, device)
    engine = _engine(voice, threads)
    player = _player(device) if out is None else None
    pacing = player.pacing() if player is not None else UNPACED  # the speakers' read-ahead; a file: none
    if phrase is not None:
        from voicebank.phrases import PhraseBook

        found = PhraseBook().resolve(phrase)
        if found.notice:  # a recorded message whose recording is gone: its words are spoken
            typer.echo(f"Note: {found.notice}", err=True)
        chunks = found.chunks(_marked(engine, watermark), opts, pacing)  # a recorded message plays as recorded
    elif text is None:
        from .speak_interactive import run_interactive

        engine.load()  # every session now, so the first line is as quick as the next
        run_interactive(engine, opts, device, watermark)
        return
    else:
        from voicebank.text import unreadable

        for warning in unreadable(text, lexicon=getattr(engine, "lexicon", None)):
            typer.echo(f"Note: {warning}", err=True)  # what the voice cannot read is skipped, not spelled out
        chunks = _marked(engine, watermark).stream(text, opts, pacing)
    if out is not None:
        _write(chunks, out, voice)
    else:
        _play(chunks, player)


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
