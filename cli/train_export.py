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
) -> None:
    """Export a voice to ONNX for the fast engine ('voicebank speak --voice DIR'), Piper and Home Assistant.

    The speaking rate can be changed later in NAME.onnx.json ("inference": "length_scale";
    above 1 is slower).
    """
    from voicebank.train.export import export_voice

    out = out or voice
    result = export_voice(voice, out, name=name, pace=pace, dataset=dataset)
    typer.echo(f"Exported    {result.onnx_path} ({result.size_bytes / 1e6:.1f} MB, {result.sample_rate} Hz)")
    typer.echo(f"Config      {result.config_path}")
    typer.echo(f"Pace        {result.pace_note}")
    typer.echo(
        "Streaming   "
        + ("yes: voicebank cuts it into encoder/flow/decoder and speaks before the sentence is done"
           if result.streamable else "no: it is spoken a sentence at a time")
    )
    typer.echo(f"Next: voicebank speak --voice {out} \"Hello, this is my voice.\"")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
