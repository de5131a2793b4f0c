"""``voicebank train prepare BANK OUT``: the bank's usable takes → an LJSpeech-layout dataset."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

if TYPE_CHECKING:
    from voicebank.train.dataset import DatasetReport


def prepare(
    bank: Path = typer.Argument(..., help="The voice bank folder.", show_default=False),
    out: Path = typer.Argument(..., help="Folder to write the dataset to (new, or a dataset made before).", show_default=False),
    sample_rate: int = typer.Option(22050, "--sample-rate", help="The model's sample rate (Piper medium and VITS: 22050)."),
    eval_count: Optional[int] = typer.Option(
        None, "--eval-count", help="Utterances to hold out for evaluation (default: 10%, at least 4; with 10 minutes or more at least 20, at most a quarter)."
    ),
    eval_fraction: float = typer.Option(0.1, "--eval-fraction", help="Share to hold out when --eval-count is not given."),
    min_eval: int = typer.Option(4, "--min-eval", help="Hold out at least this many (never more than half)."),
    seed: int = typer.Option(0, "--seed", help="Seed of the held-out choice."),
    eval_ids: Optional[Path] = typer.Option(
        None, "--eval-ids", help="File of prompt ids to hold out, one a line: exactly these, so several datasets "
        "(e.g. a learning curve) are judged on the same recordings. Replaces --eval-count.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
    without_consent: Optional[str] = typer.Option(
        None, "--without-consent", metavar="REASON", help="Make the dataset although the bank has no passing consent "
        "take; the reason goes into the card of every voice made from it. Without it, a bank without the speaker's "
        "consent is refused (record it: voicebank consent record BANK).",
    ),
) -> None:
    """Make a training dataset from the chosen takes that pass QC, with a held-out split.

    Takes are trimmed to the speech (with a small margin), level-matched, resampled and written as 16-bit WAV with their normalised text. A few are held out and never trained on, so 'voicebank train eval' can compare the voice with your real recordings. Re-running into the same folder keeps the same held-out takes.

    The bank must hold the speaker's consent (voicebank consent record BANK), or give --without-consent "reason"; the dataset keeps it in consent.json for the voices made from it.
    """
    from voicebank.train.consent_gate import require_consent, write_dataset_consent
    from voicebank.train.dataset import PrepareSettings, iter_prepare
    from voicebank.train.dataset_split import read_id_list

    consent = require_consent(bank, without_consent)  # before any work

    settings = PrepareSettings(
        sample_rate=sample_rate, eval_count=eval_count, eval_fraction=eval_fraction, min_eval=min_eval, seed=seed,
        eval_ids=read_id_list(eval_ids) if eval_ids is not None else None,
    )
    from voicebank.bank.store import Bank

    report = None
    with Bank.open(bank, writable=False, tolerate_damage=True) as opened:  # a damaged bank: its readable takes
        if opened.damage:
            from voicebank.bank.lenient import describe

            typer.secho(f"warning: {describe(opened.damage, bank)}", fg=typer.colors.YELLOW, err=True)
        for event in iter_prepare(opened, out, settings):
            if event.kind == "rejected" and not as_json:
                typer.echo(f"  left out {event.prompt_id}: {event.message}", err=True)
            report = event.report or report
        speaker = str(opened.meta.get("speaker", ""))
    assert report is not None
    write_dataset_consent(report.path, consent, bank=bank, speaker=speaker, takes=report.train,
                          minutes=report.train_minutes, held_out=report.eval)
    if as_json:
        typer.echo(json.dumps({**report.to_dict(), "consent": consent}, indent=2, ensure_ascii=False))
        return
    typer.echo(f"Consent     {consent['status']}: {consent.get('reason_without_consent') or consent['detail']} "
               f"(kept in {report.path}/consent.json)")
    _print_report(report, bank)


def _print_report(report: "DatasetReport", bank: Path) -> None:
    """The dataset made, what was left out and why, and the next command."""
    cov = report.coverage
    typer.echo(f"Dataset     {report.path}: {report.utterances} utterances, {report.minutes:.1f} min at {report.sample_rate} Hz")
    typer.echo(f"Training    {report.train} utterances, {report.train_minutes:.1f} min (metadata.csv)")
    typer.echo(
        f"Held out    {report.eval} utterances, {report.eval_minutes:.1f} min (metadata_eval.csv, never trained on)"
        + (f"; {report.kept_eval} kept from the previous run" if report.kept_eval else "")
    )
    typer.echo(
        f"Phonemes    {cov.phones} phones, {cov.diphones} diphones; {cov.fraction:.0%} of English word diphones "
        f"({cov.weighted:.0%} of their occurrences)"
    )
    if cov.missing_phones:
        typer.echo(f"Never heard {' '.join(cov.missing_phones)} (record prompts that contain them)")
    if report.rejected:
        typer.echo(f"Left out    {len(report.rejected)} takes:")
        for r in report.rejected:
            typer.echo(f"  {r.prompt_id} ({r.take_id}): {r.reason}")
        if any("no transcript" in r.reason for r in report.rejected):
            typer.echo(f"Give untranscribed takes their words with: voicebank bank transcribe {bank} --draft")
    if report.prompts_without_chosen_take:
        typer.echo(f"Unchosen    {report.prompts_without_chosen_take} prompts have takes but none chosen")
    from voicebank.train.offline_base import default_base_dir

    if (default_base_dir() / "model.pth").is_file():  # the offline base is built: no GPU or download needed
        typer.echo(f"Next: voicebank train finetune --recipe vits-offline --dataset {report.path} --out VOICE")
    else:
        typer.echo(
            f"Next: voicebank train finetune --recipe vits --dataset {report.path} --out VOICE --device cuda   "
            "(no GPU? build the offline base once: voicebank train base build, then --recipe vits-offline)"
        )


def register(app: typer.Typer) -> None:
    app.command("prepare")(prepare)
