"""``voicebank train blend VOICE --strength S --out DIR``: a voice part of the way from its base."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def blend(
    voice: Path = typer.Argument(..., help="The fine-tuned voice folder (model.pth + config.json).", show_default=False),
    out: Path = typer.Option(..., "--out", help="New voice folder to write the blend to.", show_default=False),
    strength: float = typer.Option(
        ..., "--strength", "-s", min=0.0, max=1.0,
        help="How much of the fine-tuning to apply: 1 is the voice as trained, 0 the base voice.",
        show_default=False,
    ),
    base: Optional[str] = typer.Option(
        None, "--base", help="The base to blend towards (default: the one the voice was trained from)."
    ),
) -> None:
    """Trade likeness for clarity: a voice between the fine-tuned model and its base.

    A voice fine-tuned on a few minutes of speech sounds like you but can slur new
    sentences; its base speaks clearly in someone else's voice. A blend takes every weight
    part of the way from the base to your voice (frozen parts stay as they are). Try a
    few strengths and compare them on your held-out recordings:

      voicebank train blend ~/voices/me --strength 0.8 --out ~/voices/me-0.8

      voicebank train export ~/voices/me-0.8

      voicebank train eval ~/voices/me-0.8 --dataset ~/my-voice-data --repeats 3

    The blend is a voice folder like the one it came from.
    """
    from voicebank.train.blend import blend_voice

    result = blend_voice(voice, out, strength, base=base)
    typer.echo(f"Blended     {result.voice_dir} (strength {result.strength:g}: "
               f"{result.tensors_blended} trained tensors moved toward the base, {result.tensors_same} frozen ones as they were)")
    typer.echo(f"Base        {result.base}")
    typer.echo(f"Next: voicebank train export {result.voice_dir}   "
               f"then: voicebank train eval {result.voice_dir} --dataset DATA --repeats 3")


def register(app: typer.Typer) -> None:
    app.command("blend")(blend)
