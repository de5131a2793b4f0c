"""``voicebank train export VOICE --out DIR``: a trained voice → Piper-format ONNX (fast, offline)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def export(
    voice: Path = typer.Argument(..., help="The trained voice folder (model.pth + config.json).", show_default=False),
    out: Optional[Path] = typer.Option(
        None, "--out", help="Folder to write NAME.onnx and NAME.onnx.json to (default: the voice folder itself)."
    ),
    name: Optional[str] = typer.Option(None, "--name", help="File name of the voice (default: the voice folder's name)."),
    pace: str = typer.Option(
        "keep", "--pace",
        help="Speaking rate: 'keep' (default) the recipe's; 'recordings' measures your pace on the training clips "
        "and speaks at it (a vits-offline voice otherwise keeps the stock voice's timing; slower can be harder "
        "to understand, so compare with 'voicebank train eval --repeats 3').",
    ),
    dataset: Optional[Path] = typer.Option(
        None, "--dataset", "-d", help="Dataset to measure the pace on (default: the one the voice was trained on)."
    ),
    strength: Optional[float] = typer.Option(
        None, "--strength", "-s", min=0.0, max=1.0,
        help="How far from the base toward your fine-tuned voice: 1 is the voice as trained, lower speaks new "
        "sentences more clearly but sounds less like you (default: the recipe's; vits-offline 0.8).",
        show_default=False,
    ),
) -> None:
    """Export a voice to ONNX for the fast engine ('voicebank speak --voice DIR'), Piper and Home Assistant.

    The speaking rate can be changed later in NAME.onnx.json ("inference": "length_scale"; above 1 is slower).

    A voice fine-tuned on a few minutes of speech can slur sentences it never heard. Its strength takes every trained weight part of the way back to the base, which speaks clearly; compare a few on your held-out recordings before choosing:

      voicebank train export ~/voices/me --strength 0.7 --out ~/voices/me-0.7

      voicebank train eval ~/voices/me-0.7 --dataset ~/my-voice-data --repeats 3
    """
    from voicebank.train.export import export_voice

    out = out or voice
    result = export_voice(voice, out, name=name, pace=pace, dataset=dataset, strength=strength)
    typer.echo(f"Exported    {result.onnx_path} ({result.size_bytes / 1e6:.1f} MB, {result.sample_rate} Hz)")
    typer.echo(f"Config      {result.config_path}")
    typer.echo(f"Pace        {result.pace_note}")
    typer.echo("Strength    " + (f"{result.strength:g}: part of the way from the base toward the fine-tuned voice"
                                 if result.strength < 1 else "1: the voice as trained"))
    typer.echo(
        "Streaming   "
        + ("yes: voicebank cuts it into encoder/flow/decoder and speaks before the sentence is done"
           if result.streamable else "no: it is spoken a sentence at a time")
    )
    typer.echo(f"Next: voicebank speak --voice {out} \"Hello, this is my voice.\"")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
