"""``voicebank lexicon ...``: fix how words are said, per voice."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from voicebank.errors import UsageError

app = typer.Typer(
    help=(
        "Fix how words and phrases are said: a lexicon of respellings ('Nguyen' -> 'Win') or phonemes, "
        "kept with each voice (or one global lexicon when no voice is given).\n\n"
        "Typical use:  voicebank lexicon add Nguyen Win --voice mine   then   "
        "voicebank lexicon show 'Call Nguyen at 5 pm' --voice mine"
    ),
    no_args_is_help=True,
)

VoiceOpt = typer.Option(
    None, "--voice", help="A voice name (in the voices folder) or a voice folder path.", show_default=False
)
FileOpt = typer.Option(None, "--file", help="Use this lexicon file instead.", show_default=False, dir_okay=False)


def lexicon_path(voice: Optional[str], file: Optional[Path]) -> Path:
    """Where the lexicon lives: --file, the voice folder's lexicon.json, or the global one."""
    from voicebank.config import data_home, voices_dir
    from voicebank.text.lexicon import FILE_NAME

    if voice and file:
        raise UsageError("Give --voice or --file, not both.")
    if file:
        return file.expanduser()
    if not voice:
        return data_home() / FILE_NAME
    folder = Path(voice).expanduser()
    if folder.is_dir():
        return folder / FILE_NAME
    named = voices_dir() / voice
    if "/" not in voice and "\\" not in voice and named.is_dir():
        return named / FILE_NAME
    raise UsageError(
        f"No voice {voice!r}: it is neither a folder nor a voice in {voices_dir()}. "
        "Give a voice folder path, or leave out --voice to use the global lexicon."
    )


def voice_alphabet(voice: Optional[str], path: Path) -> set[str]:
    """The phoneme symbols the voice knows: its .onnx.json's map, else Piper's English alphabet."""
    from voicebank.voice.config import PiperVoiceConfig

    configs = sorted(path.parent.glob("*.onnx.json")) if voice else []
    if len(configs) == 1:
        return set(PiperVoiceConfig.load(configs[0]).phoneme_id_map)
    try:
        from voicebank.voice.phonemes import PIPER_SYMBOLS, piper_symbols

        return set(piper_symbols()[:PIPER_SYMBOLS])
    except ImportError as exc:
        from voicebank.errors import MissingDependencyError

        raise MissingDependencyError("piper-tts (the phoneme alphabet, to check --phonemes)", "speak") from exc


def _describe(entry) -> str:
    if entry.is_phonemes:
        return f"{entry.word} -> [[{entry.pronunciation}]] (phonemes)"
    return f"{entry.word} -> {entry.pronunciation}"


@app.command("add")
def add(
    word: str = typer.Argument(
        ..., help="The word or phrase as it is written, e.g. Nguyen, Dr. or 'Mary Ann'.", show_default=False
    ),
    pronunciation: str = typer.Argument(
        ..., help="How to say it: a respelling ('Win'), or espeak-ng IPA with --phonemes.", show_default=False
    ),
    phonemes: bool = typer.Option(False, "--phonemes", help="PRONUNCIATION is espeak-ng IPA phonemes."),
    voice: Optional[str] = VoiceOpt,
    file: Optional[Path] = FileOpt,
) -> None:
    """Add a word or phrase (or change it if it is already there). Phonemes the voice lacks are refused."""
    from voicebank.text import Lexicon, normalize

    path = lexicon_path(voice, file)
    lexicon = Lexicon.load(path)
    existed = word in lexicon
    alphabet = voice_alphabet(voice, path) if phonemes else None
    entry = lexicon.add(word, pronunciation, phonemes=phonemes, alphabet=alphabet)
    lexicon.save(path)
    typer.echo(f"{'Changed' if existed else 'Added'} {_describe(entry)} in {path}")
    typer.echo(f"'{entry.word}' is now read as: {normalize(entry.word, lexicon=lexicon)}")


@app.command("remove")
def remove(
    word: str = typer.Argument(..., help="The word to forget.", show_default=False),
    voice: Optional[str] = VoiceOpt,
    file: Optional[Path] = FileOpt,
) -> None:
    """Remove a word; it is read by the built-in rules again."""
    from voicebank.text import Lexicon

    path = lexicon_path(voice, file)
    lexicon = Lexicon.load(path)
    if not lexicon.remove(word):
        raise UsageError(f"{word!r} is not in the lexicon {path}; see 'voicebank lexicon list'.")
    lexicon.save(path)
    typer.echo(f"Removed {word} from {path}")


@app.command("list")
def list_entries(
    voice: Optional[str] = VoiceOpt,
    file: Optional[Path] = FileOpt,
) -> None:
    """Show every word in the lexicon."""
    from voicebank.text import Lexicon

    path = lexicon_path(voice, file)
    lexicon = Lexicon.load(path)
    if not len(lexicon):
        typer.echo(f"The lexicon {path} is empty. Add a word with 'voicebank lexicon add WORD PRONUNCIATION'.")
        return
    typer.echo(f"{len(lexicon)} word{'s' if len(lexicon) != 1 else ''} in {path}:")
    for entry in lexicon.items():
        typer.echo(f"  {_describe(entry)}")


@app.command("show")
def show(
    text: str = typer.Argument(..., help="The text to read.", show_default=False),
    voice: Optional[str] = VoiceOpt,
    file: Optional[Path] = FileOpt,
    emoji: str = typer.Option("common", help="Emoji: common (everyday ones named), name (all named) or drop."),
    max_chars: int = typer.Option(400, "--max-chars", min=20, help="Longest piece spoken in one go."),
) -> None:
    """Print what the voice would say for TEXT: one line per sentence or pause.

    TEXT may hold pauses: \\[pause], \\[pause 2s], \\[pause 300ms] or <break time="500ms"/>.
    """
    from voicebank.text import Lexicon, TextOptions, segments

    lexicon = Lexicon.load(lexicon_path(voice, file))
    pieces = segments(text, lexicon=lexicon, max_chars=max_chars, options=TextOptions(emoji=emoji))
    if not pieces:
        typer.echo("(nothing to say)")
    for piece in pieces:
        typer.echo(piece.text if piece.kind == "speech" else f"[pause {piece.seconds:g} s]")
