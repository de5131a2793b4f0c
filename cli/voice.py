"""``voicebank voice ...``: look after voices: list them, export them for other hosts."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from voicebank.errors import UsageError

if TYPE_CHECKING:
    from voicebank.voice.card import VoiceCard

app = typer.Typer(
    help=(
        "Your voices: list them, show a voice's card (whose voice, their consent, its licence), and export one for other programs (Android's sherpa-onnx engines, "
        "the Linux desktop's speech-dispatcher)."
    ),
    no_args_is_help=True,
)


@app.command("list")
def list_cmd() -> None:
    """List the voices: the stock voice and every voice folder in voicebank's data folder."""
    from voicebank.voice.registry import list_voices

    for name in list_voices():
        typer.echo(name)


@app.command("info")
def info_cmd(
    voice: str = typer.Argument("joe", help="The voice: a name from 'voicebank voice list', a voice folder, an .onnx file, or 'joe'."),
    as_json: bool = typer.Option(False, "--json", help="Print the card as JSON."),
) -> None:
    """Show a voice's card: whose voice it is, their consent, what it was made from, its base model and licence.

    Voices made by voicebank carry card.json; for an older voice the card is built from its folder, and what cannot be known is shown as "unknown".
    """
    import json

    from voicebank.voice.card import card_for

    card = card_for(voice)
    if as_json:
        typer.echo(json.dumps(card.to_dict(), indent=2, ensure_ascii=False))
        return
    for label, value in _card_lines(card):
        typer.echo(f"{label:<12}{value}")


def _card_lines(card: "VoiceCard") -> list[tuple[str, str]]:
    """The card as labelled lines for people (long values on one line each; terminals wrap them)."""
    consent = card.consent
    data = card.training_data
    lines = [("Voice", f"{card.name} ({card.kind or 'unknown kind'})"), ("Speaker", card.speaker or "unknown")]
    lines.append(("Consent", f"{card.consent_status}" + (f" ({consent['how']})" if consent.get("how") not in (None, "none") else "")))
    if consent.get("reason_without_consent"):
        lines.append(("", f"made without consent; the reason given: {consent['reason_without_consent']}"))
    if consent.get("detail"):
        lines.append(("", str(consent["detail"])))
    if consent.get("checked_with"):
        lines.append(("", f"checked with: {consent['checked_with']}"))
    size = ", ".join(f"{k} {v}" for k, v in data.items() if k in ("takes", "minutes", "held_out"))
    source = data.get("bank") or data.get("dataset") or data.get("data") or "unknown"
    lines.append(("Trained on", f"{source}" + (f" ({size})" if size else "")))
    lines += [("Made", f"{card.created or 'unknown'} with {card.toolkit or 'unknown'}"),
              ("Base model", card.base_model or "unknown"), ("Licence", card.base_licence or "unknown")]
    lines += [("Note" if i == 0 else "", note) for i, note in enumerate(card.notes)]
    return lines


@app.command("export")
def export_cmd(
    voice: str = typer.Argument(..., help="The voice: a name from 'voicebank voice list', a voice folder, an .onnx file, or 'joe'."),
    fmt: str = typer.Option(..., "--format", "-f", help="sherpa-onnx (Android TTS engines and other sherpa-onnx hosts) or speech-dispatcher (Orca and the Linux desktop)."),
    out: Path = typer.Option(..., "--out", "-o", help="A new (or empty) folder to write; nothing is written if the export fails."),
    install: bool = typer.Option(False, "--install", help="speech-dispatcher: also install the module in ~/.config/speech-dispatcher (then restart speech-dispatcher)."),
    word_list: Optional[Path] = typer.Option(None, "--word-list", help="sherpa-onnx: the words to put in lexicon.txt, one a line (default: /usr/share/dict/words from Debian's wamerican).", dir_okay=False),
    espeak_data: bool = typer.Option(True, "--espeak-data/--no-espeak-data", help="sherpa-onnx: include espeak-ng-data/ (20 MB) for hosts still on sherpa-onnx 1.x."),
) -> None:
    """Export a voice for another program; a voice it cannot convert is refused and nothing is written.

    Examples:

      voicebank voice export mine --format sherpa-onnx --out ~/mine-android
      (copy the folder to the phone: see docs/android.md)

      voicebank voice export mine --format speech-dispatcher --out ~/mine-speechd --install
      (then: spd-say -o voicebank "Hello"; in Orca pick the synthesizer "voicebank": see docs/linux-desktop.md)

    Only Piper-format (VITS) voices can be exported: the stock voice 'joe' and voices made with 'voicebank train finetune' + 'voicebank train export'. XTTS and Kokoro voices are refused.
    """
    if fmt == "sherpa-onnx":
        if install:
            raise UsageError("--install is for --format speech-dispatcher; copy a sherpa-onnx export to the device instead.")
        _export_sherpa(voice, out, word_list, espeak_data)
    elif fmt == "speech-dispatcher":
        if word_list is not None:
            raise UsageError("--word-list is for --format sherpa-onnx (speech-dispatcher speaks with voicebank's own frontend).")
        _export_speechd(voice, out, install)
    else:
        raise UsageError(f"Unknown --format {fmt!r}: use sherpa-onnx or speech-dispatcher.")


def _export_sherpa(voice: str, out: Path, word_list: Optional[Path], espeak_data: bool) -> None:
    from voicebank.exports.sherpa import export_sherpa
    from voicebank.exports.word_lexicon import WORD_LIST

    def progress(done: int, total: int) -> None:
        typer.echo(f"\rPhonemizing the word list: {done}/{total} words", nl=done == total, err=True)

    typer.echo(f"Exporting {voice} for sherpa-onnx (the word list is phonemized once, then cached)...", err=True)
    result = export_sherpa(voice, out, word_list=word_list or WORD_LIST, espeak_data=espeak_data, progress=progress)
    lex = result.lexicon
    typer.echo(f"Wrote {result.out}: model.onnx (with sherpa-onnx metadata), tokens.txt ({result.tokens} phonemes), "
               f"lexicon.txt ({lex.entries} entries, {lex.size_bytes / 1e6:.1f} MB)"
               + (", espeak-ng-data/" if result.espeak_data else "") + ".")
    for skipped in lex.skipped:
        typer.echo(f"Note: your lexicon entry {skipped} is not in lexicon.txt.", err=True)
    typer.echo("Words that are not in lexicon.txt are skipped by sherpa-onnx 2.x: see docs/android.md.")


def _export_speechd(voice: str, out: Path, install: bool) -> None:
    from voicebank.exports.speechd import MODULE, export_speechd, user_config_dir

    result = export_speechd(voice, out, install_to=user_config_dir() if install else None)
    typer.echo(f"Wrote {result.conf} and {result.out / 'speechd.conf.add'}.")
    if result.installed is not None:
        typer.echo(f"Installed {result.installed}; speechd.conf loads it. Restart speech-dispatcher: "
                   "killall speech-dispatcher (it starts again when needed).")
    else:
        typer.echo(f"To use it: copy {result.conf.name} to ~/.config/speech-dispatcher/modules/ and add this line to "
                   f"~/.config/speech-dispatcher/speechd.conf:\n  {result.add_module}\n(or run this again with --install).")
    typer.echo(f'Try it: spd-say -o {MODULE} "Hello, this is my voice."   Orca: Preferences > Voice > Speech synthesizer: {MODULE}')


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="voice")
