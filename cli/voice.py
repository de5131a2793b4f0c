"""``voicebank voice ...``: look after voices: list them, export them for other hosts."""

from __future__ import annotations

import typer

app = typer.Typer(
    help=(
        "Your voices: list them and export one for other programs (Android's sherpa-onnx engines, "
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


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="voice")
