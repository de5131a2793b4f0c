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
        "Base models that voices are made from: the offline base, built here from the stock voice (build; "
        "what recipe vits-offline starts from), and XTTS-v2 and Coqui's LJSpeech VITS (list: where they were looked "
        "for and found; download: only when you ask, after their licence). Nothing is ever downloaded otherwise."
    ),
    no_args_is_help=True,
)


@app.command("list")
def list_cmd(
    purpose: str = typer.Option("train", "--for", help="'train' (fine-tuning needs more files) or 'speak'."),
    as_json: bool = typer.Option(False, "--json", help="Print the findings as JSON."),
) -> None:
    """Show each base model: found where, or which files are missing where, and its licence."""
    from voicebank.errors import BaseModelMissing
    from voicebank.voice.bases import list_bases
    from voicebank.train.offline_base import LICENCE_NOTE, default_base_dir
    from voicebank.train.vits import offline_base

    reports = list_bases(purpose)
    offline = default_base_dir()
    try:
        built = offline_base() is not None
    except BaseModelMissing:
        built = False
    if as_json:
        rows = [r.to_dict() for r in reports]
        rows.append({"name": "joe-offline", "title": "Offline base from the stock voice", "found": str(offline) if built else None,
                     "licence": LICENCE_NOTE, "get_it": "voicebank train base build"})
        typer.echo(json.dumps(rows, indent=2))
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
    state = f"built in {offline}" if built else f"not built yet ({offline})"
    typer.echo(f"{'joe-offline':<8} Offline base from the stock voice (recipe vits-offline): {state}")
    typer.echo(f"         licence: {LICENCE_NOTE}")
    if not built:
        typer.echo("         get it: voicebank train base build  (nothing is downloaded)")


@app.command("download")
def download_cmd(
    name: str = typer.Argument(..., help="xtts_v2 or vits.", show_default=False),
    accept_licence: bool = typer.Option(
        False, "--accept-licence", help="Accept the model's licence without being asked (for scripts)."
    ),
) -> None:
    """Download a base model into voicebank's folder, after showing its licence."""
    from voicebank.train.base_models import download_base
    from voicebank.voice.bases import licence_notice, locate_base, spec_for

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


@app.command("build")
def build_cmd(
    out: Optional[Path] = typer.Option(
        None, "--out", help="Folder for the base (default: voicebank's base-model folder, where recipe vits-offline looks)."
    ),
    sentences: int = typer.Option(400, "--sentences", help="Clips the stock voice synthesizes to train on."),
    posterior_steps: int = typer.Option(1200, "--posterior-steps", help="Steps of the posterior-encoder stage."),
    discriminator_steps: int = typer.Option(300, "--discriminator-steps", help="Steps of the discriminator stage."),
    discriminator_width: int = typer.Option(
        32, "--discriminator-width", help="Channels of the small period discriminators (0: Coqui's full one; GPU)."
    ),
    threads: int = typer.Option(2, "--threads", help="CPU threads for torch."),
    every: int = typer.Option(25, "--every", help="Print progress every N steps."),
) -> None:
    """Build the offline base from the stock voice: fine-tunable, nothing downloaded.

    The stock voice's ONNX generator is imported into Coqui's VITS (checked against ONNX Runtime), then the parts the ONNX file lacks are trained against it on speech it synthesizes itself: the posterior encoder, the duration predictor's training branch and a small discriminator. Killed or stopped, the same command resumes from the last checkpoint. About 20 minutes on 2 CPU cores. Then: voicebank train finetune --recipe vits-offline ...
    """
    import time

    from voicebank.train.offline_base import LICENCE_NOTE, BuildEvent, BuildSettings, build_base

    settings = BuildSettings(sentences=sentences, posterior_steps=posterior_steps,
                             discriminator_steps=discriminator_steps, discriminator_width=discriminator_width,
                             threads=threads)
    began = time.monotonic()
    stage_start: dict[str, tuple[float, int]] = {}

    def show(e: BuildEvent) -> None:
        if e.kind == "stage":
            typer.echo(e.message + " ...")
            stage_start[e.stage] = (time.monotonic(), e.step)
        elif e.kind == "step" and (e.step % max(1, every) == 0 or e.step == e.total):
            t0, s0 = stage_start.get(e.stage, (began, 0))
            done = max(1, e.step - s0)
            eta = (time.monotonic() - t0) / done * (e.total - e.step)
            losses = "  ".join(f"{k} {v:.3f}" for k, v in e.values.items() if k != "seconds")
            typer.echo(f"  {e.stage} {e.step}/{e.total}  {losses}  (about {eta / 60:.0f} min left in this stage)")
        elif e.kind == "done":
            typer.echo(e.message)
            for k, v in e.values.items():
                typer.echo(f"  {k}: {v}")

    folder = build_base(out, settings, show)
    typer.echo(f"Built in {(time.monotonic() - began) / 60:.1f} min (this run). Licence: {LICENCE_NOTE}")
    typer.echo("Next: voicebank train finetune --recipe vits-offline --dataset DATA --out VOICE"
               + ("" if out is None else f" --base {folder}"))


def clone_cmd(
    bank: Path = typer.Argument(..., help="The voice bank folder.", show_default=False),
    out: Optional[Path] = typer.Option(None, "--out", help="Voice folder to write (default: in voicebank's voices folder)."),
    refs: int = typer.Option(4, "--refs", help="How many of the bank's best takes to clone from."),
    base: Optional[Path] = typer.Option(None, "--base", help="The XTTS-v2 folder (default: look in the usual places)."),
    language: str = typer.Option("en", "--language", help="XTTS language code of the recordings."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda (for computing the voice's latents)."),
    without_consent: Optional[str] = typer.Option(
        None, "--without-consent", metavar="REASON", help="Clone although the bank has no passing consent take; "
        "the reason goes into the voice's card.",
    ),
) -> None:
    """Make a zero-shot XTTS-v2 voice from a few takes of a bank (no training).

    The best chosen takes are copied into the voice folder and the base model computes the voice's conditioning once, so it is ready to speak. The XTTS-v2 weights are for non-commercial use only, and so is the voice. The bank must hold the speaker's consent (voicebank consent record BANK), or give --without-consent "reason" (it goes into the voice's card).
    """
    from voicebank.engines.xtts import XttsEngine
    from voicebank.engines.xtts_voice import make_voice_from_bank
    from voicebank.voice.xtts_card import LICENCE
    from voicebank.voice.bases import find_base
    from voicebank.train.consent_gate import require_consent, write_clone_card

    consent = require_consent(bank, without_consent)
    base_model = find_base("xtts_v2", base, purpose="speak")  # before anything is written
    folder = make_voice_from_bank(bank, out, n_refs=refs, base=base_model.path, language=language)
    engine = XttsEngine.from_folder(folder, device=device)
    write_clone_card(folder, consent, bank, base_model.path, len(engine.voice.references) if engine.voice else refs)
    typer.echo(f"Voice       {folder} ({len(engine.voice.references) if engine.voice else refs} reference takes, "
               f"base {base_model.path})")
    typer.echo(f"Licence     {LICENCE}")


def register(train_app: typer.Typer) -> None:
    train_app.add_typer(app, name="base")
    train_app.command("clone")(clone_cmd)
