"""``voicebank verify FILE``: say whether an audio file is marked as synthetic speech, and which voice made it."""

from __future__ import annotations

import json
from pathlib import Path

from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:
    from voicebank.provenance.verify import VerifyReport


def verify(
    file: Path = typer.Argument(..., help="The audio file to check: WAV, FLAC, MP3, M4A/M4B, Opus/Ogg (anything ffmpeg reads)."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as one JSON object instead of sentences."),
) -> None:
    """Check a file for the marks voicebank puts on synthetic speech, and say which voice made it.

    The watermark is inaudible and lives in the sound itself: it survives MP3 re-encoding, resampling and stripped tags, but says only "synthetic", not who. The tags inside the file and the signed sidecar (FILE.provenance.json next to it) name the voice; the sidecar's signature also shows whether the file changed since it was made. A C2PA manifest, when the file has one, is checked too. Clips too short to judge reliably are not judged.

    Examples:

      voicebank verify note.mp3

      voicebank verify note.mp3 --json

    Exit codes:

      0  the watermark was judged (present or absent)

      4  the clip is too short (or too quiet) to judge

      5  the watermark detector is not installed (it comes with voicebank's trust extra)

      6  judged, but the sidecar or C2PA manifest does not hold for this file (it changed, or the sidecar was edited)

      2  the file cannot be read
    """
    from voicebank.provenance.verify import inspect_file

    report = inspect_file(file)
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
    else:
        for line in describe(report):
            typer.echo(line)
    raise typer.Exit(report.exit_code())


def describe(report: VerifyReport) -> list[str]:
    """The report as sentences, the verdict first."""
    wm = report.watermark
    if wm is None:
        lines = [f"Watermark: not checked ({report.watermark_error})."]
    elif wm.present is None:
        lines = [f"Watermark: not judged - {wm.reason or 'too short to judge reliably'} ({wm.seconds:.1f} s of audio)."]
    elif wm.present:
        lines = [f"Watermark: PRESENT - marked as synthetic speech (confidence {wm.confidence:.2f}, {wm.seconds:.1f} s judged)."]
    else:
        lines = [f"Watermark: none found (confidence {wm.confidence:.2f}, {wm.seconds:.1f} s judged)."]
    tags = report.tags
    lines.append(f"Tags: {tags.describe()}" if tags else f"Tags: {report.tags_error or 'none of ours'}.")
    side = report.sidecar
    if side is not None:
        lines.append(f"Sidecar ({side.path.name}): {side.verdict}" + (f" - {side.detail}." if side.detail else "."))
    lines.append(f"C2PA: {report.c2pa.verdict}" + (f" - {report.c2pa.detail}" if report.c2pa.detail else "."))
    voice = report.voice
    if voice is not None:
        lines.append(f"Made by: the voice {voice.voice}" + (f" ({voice.voice_id})" if voice.voice_id else "")
                     + (f", {voice.toolkit}" if voice.toolkit else "") + (f", {voice.created}" if voice.created else "") + ".")
    return lines


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)
