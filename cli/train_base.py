"""``voicebank train base ...``: which base models are here, and downloading one (with its licence).

Also ``voicebank train clone BANK``: a zero-shot XTTS voice made straight from the base
model and a few of the bank's takes (no training) — for people who cannot record much.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(
    help=(
        "Base models that voices are made from (XTTS-v2, Coqui's LJSpeech VITS): where they were "
        "looked for and found, and a download when you ask for one. Nothing is ever downloaded otherwise."
    ),
    no_args_is_help=True,
)


@app.command("list")
def list_cmd(
    purpose: str = typer.Option("train", "--for", help="'train' (fine-tuning needs more files) or 'speak'."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """Show each base model: found where, or which files are missing where, and its licence."""
    from voicebank.train.base_models import list_bases

    reports = list_bases(purpose)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in reports], indent=2))
        return
    for report in reports:
        spec = report.spec
        state = f"found in {report.found.path} ({report.found.source})" if report.found else "not found"
        typer.echo(f"{spec.name:<8} {spec.title}: {state}")
        typer.echo(f"         licence: {spec.licence}")
        if report.found is None:
            for loc in report.locations:
                what = "does not exist" if not loc.exists else "missing " + ", ".join(loc.missing)
                typer.echo(f"         {loc.path}: {what}")
            typer.echo(f"         get it: voicebank train base download {spec.name}")


@app.command("download")
def download_cmd(
    name: str = typer.Argument(..., help="xtts_v2 or vits.", show_default=False),
    accept_licence: bool = typer.Option(
        False, "--accept-licence", help="Accept the model's licence without being asked (for scripts)."
    ),
) -> None:
    """Download a base model with Coqui's downloader, after showing its licence."""
    from voicebank.train.base_models import download_base, licence_notice, locate_base, spec_for

    spec = spec_for(name)
    report = locate_base(spec.name, None, "train")
    if report.found is not None:
        typer.echo(f"{spec.title} is already here: {report.found.path}")
        return
    typer.echo(licence_notice(spec.name))
    if not accept_licence:
        accept_licence = typer.confirm("Do you accept this licence?", default=False)
    if not accept_licence:
        typer.echo("Nothing was downloaded.")
        raise typer.Exit(1)
    size = f" ({spec.size})" if spec.size else ""
    typer.echo(f"Downloading {spec.title}{size}; this can take a while ...")
    found = download_base(spec.name, accept_licence=True)
    typer.echo(f"{spec.title} is in {found.path}")


def clone_cmd(
    bank: Path = typer.Argument(..., help="The voice bank folder.", show_default=False),
    out: Optional[Path] = typer.Option(None, "--out", help="Voice folder to write (default: in voicebank's voices folder)."),
    refs: int = typer.Option(4, "--refs", help="How many of the bank's best takes to clone from."),
    base: Optional[Path] = typer.Option(None, "--base", help="The XTTS-v2 folder (default: look in the usual places)."),
    language: str = typer.Option("en", "--language", help="XTTS language code of the recordings."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda (for computing the voice's latents)."),
) -> None:
    """Make a zero-shot XTTS-v2 voice from a few takes of a bank (no training).

    The best chosen takes are copied into the voice folder and the base model computes the
    voice's conditioning once, so it is ready to speak. The XTTS-v2 weights are for
    non-commercial use only, and so is the voice.
    """
    from voicebank.engines.xtts import XttsEngine
    from voicebank.engines.xtts_voice import LICENCE, make_voice_from_bank
    from voicebank.train.base_models import find_base

    base_model = find_base("xtts_v2", base, purpose="speak")  # before anything is written
    folder = make_voice_from_bank(bank, out, n_refs=refs, base=base_model.path, language=language)
    engine = XttsEngine.from_folder(folder, device=device)
    typer.echo(f"Voice       {folder} ({len(engine.voice.references) if engine.voice else refs} reference takes, "
               f"base {base_model.path})")
    typer.echo(f"Licence     {LICENCE}")


def register(train_app: typer.Typer) -> None:
    train_app.add_typer(app, name="base")
    train_app.command("clone")(clone_cmd)
