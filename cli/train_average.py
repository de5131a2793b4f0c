"""``voicebank train average VOICE VOICE ... --out SOUP``: one voice from runs that differ only in their seed."""

from __future__ import annotations

from pathlib import Path
from typing import List

import typer


def average(
    voices: List[Path] = typer.Argument(..., metavar="VOICE...", help="Two or more voice folders made by 'voicebank train finetune' with the "
                                        "same recipe, --base and --dataset and different --seed.", show_default=False),
    out: Path = typer.Option(..., "--out", help="New voice folder for the average (model.pth, config.json, card.json).",
                             show_default=False),
) -> None:
    """Average voices trained alike into one voice (a "model soup"), which can sound more like you than each of them.

    Runs of one recipe from one start on one dataset, differing only in their random seed, learn the same voice with different noise, and the average of their weights keeps what they share. On 15 minutes of speech the average of two vits-offline-more runs was more alike than each run alone in one measured pair and as alike in another, and as clear (docs/offline-voice.md), so that recipe trains two runs and averages them by itself (train finetune --runs). This command joins runs you trained yourself. Voices from different starts, datasets or recipes are refused: their weights do not line up.

      voicebank train finetune --recipe vits-offline-more --runs 1 --base ~/voices/me --dataset DATA --out ~/voices/me-a

      voicebank train finetune --recipe vits-offline-more --runs 1 --base ~/voices/me --dataset DATA --out ~/voices/me-b --seed 2

      voicebank train average ~/voices/me-a ~/voices/me-b --out ~/voices/me-ab

      voicebank train export ~/voices/me-ab --out ~/voices/me-ab-onnx
    """
    from voicebank.train.soup import average_voices

    result = average_voices(list(voices), out)
    seeds = ", ".join(str(s) for s in result.seeds)
    typer.echo(f"Averaged    {len(result.voices)} voices (seeds {seeds}): {result.tensors} weight tensors, "
               f"{result.seconds:.1f} s")
    typer.echo(f"Voice       {result.voice_dir}")
    typer.echo(f"Next: voicebank train export {result.voice_dir}   then   voicebank train eval EXPORTED --dataset DATASET")


def register(app: typer.Typer) -> None:
    app.command("average")(average)
