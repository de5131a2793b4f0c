"""``voicebank train finetune``: train a voice on a prepared dataset (VITS or XTTS-v2 recipes)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Optional

import typer


def finetune(
    recipe: Optional[str] = typer.Option(
        None,
        "--recipe",
        help="A shipped recipe (vits-offline: the offline base on a CPU; vits-offline-more: train a vits-offline "
        "voice further, given with --base, for 15+ minutes of speech; vits: Coqui's VITS; xtts-v2; vits-tiny: tiny "
        "test model) or a .toml path. Not needed with --resume.",
    ),
    dataset: Optional[Path] = typer.Option(
        None, "--dataset", help="Dataset folder made by 'voicebank train prepare'. Not needed with --resume."
    ),
    base: Optional[str] = typer.Option(
        None,
        "--base",
        help="Base model to fine-tune: a folder with model_file.pth/model.pth and config.json (never downloaded). "
        "Default: look in voicebank's and Coqui's model folders.",
    ),
    out: Path = typer.Option(..., "--out", help="Voice folder to train into (model.pth, config.json, checkpoints).", show_default=False),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    resume: bool = typer.Option(False, "--resume", help="Continue the run in --out from its last checkpoint."),
    max_steps: Optional[int] = typer.Option(
        None, "--max-steps", help="Stop at this step at the latest (counted from the start of the run)."
    ),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads for torch (default: torch's choice)."),
    runs: Optional[int] = typer.Option(
        None, "--runs", min=1, help="Train the voice this many times (seeds S, S+1, ...) and average the runs into OUT; "
        "the runs stay in OUT/runs/. Default: the recipe's (2 for vits-offline-more, 1 otherwise).",
    ),
    seed: Optional[int] = typer.Option(
        None, "--seed", min=0, help="Random seed instead of the recipe's (the order of the clips, the noise). Runs that differ "
        "only in it can be averaged into one voice (--runs, or 'voicebank train average'). With --runs N the seeds are "
        "S, S+1, ... from this one.",
    ),
    without_consent: Optional[str] = typer.Option(
        None, "--without-consent", metavar="REASON", help="Train although the dataset carries no passing consent "
        "(it was not made by 'train prepare' from a bank with the speaker's consent); the reason goes into the voice's card.",
    ),
) -> None:
    """Fine-tune a voice on your dataset; stops early when held-out utterances stop improving.

    The best voice so far is always in OUT/model.pth, so an interrupted run still leaves a voice behind; continue it with --resume. Then: voicebank train export OUT --out DIR.

    The dataset must carry the speaker's consent (made by 'voicebank train prepare' from a bank with their consent on file), or give --without-consent "reason"; either goes into the voice's card (OUT/card.json).
    """
    from voicebank.train.consent_gate import dataset_consent, recorded_dataset, resumed_reason, write_training_card
    from voicebank.train.seed_runs import planned_dataset, record_folder

    recorded = record_folder(out)  # a set of runs speaks through its first run's record and card
    trained_on = dataset if dataset is not None else (recorded_dataset(recorded) or planned_dataset(out)) if resume else None
    if resume and without_consent is None and trained_on is not None:
        without_consent = resumed_reason(recorded, trained_on)  # the reason the run was started with still holds
    consent = dataset_consent(trained_on, without_consent) if trained_on is not None else None  # before any work
    from voicebank.train.finetune import finetune as run_finetune

    printer = _Printer()

    def on_event(event: Any) -> None:
        if event.kind == "voice" and consent is not None:  # each of several runs gets its card before they are averaged
            write_training_card(event.path, consent, trained_on)
        printer(event)

    try:
        result = run_finetune(
            recipe,
            dataset,
            out,
            base=base,
            device=device,
            resume=resume,
            max_steps=max_steps,
            threads=threads,
            seed=seed,
            runs=runs,
            on_event=on_event,
        )
    except KeyboardInterrupt:
        if consent is not None and (out / "model.pth").is_file():
            write_training_card(out, consent, trained_on)  # the voice kept so far is a voice: it gets its card
        typer.echo(
            f"\nInterrupted. Continue later with: voicebank train finetune --out {out} --resume "
            "(from the last checkpoint).",
            err=True,
        )
        raise
    printer.close()
    if consent is not None and not hasattr(result, "soup"):  # an average carries its runs' card already
        write_training_card(getattr(result, "voice_dir", out), consent, trained_on)
    _print_result(result, dataset, out)


def _print_result(result: Any, dataset: Optional[Path], out: Path) -> None:
    if hasattr(result, "soup"):  # several runs, averaged
        for run in result.runs:
            typer.echo(f"Run         {run.voice_dir} (best held-out loss {run.best_loss_eval:.3f} at step {run.best_step})")
        typer.echo(f"Voice       {result.voice_dir} (the average of {len(result.runs)} runs)")
        typer.echo(
            f"Next: voicebank train export {result.voice_dir}   then   voicebank train eval {result.voice_dir} "
            f"--dataset {dataset or 'DATASET'}"
        )
    elif hasattr(result, "best_step"):
        typer.echo(
            f"Voice       {result.voice_dir} (best held-out loss {result.best_loss_eval:.3f} at step "
            f"{result.best_step}; {result.steps} steps, {result.seconds_per_step:.2f} s/step)"
        )
        typer.echo(
            f"Next: voicebank train export {result.voice_dir}   then   voicebank train eval {result.voice_dir} "
            f"--dataset {dataset or 'DATASET'}   and   voicebank speak --voice {result.voice_dir} \"Hello.\""
        )
    else:  # another model's trainer (XTTS) returns its own result
        best = getattr(result, "best_eval_loss", None)
        detail = f" ({getattr(result, 'steps', '?')} steps" + (f", best held-out loss {best:.3f})" if best is not None else ")")
        typer.echo(f"Voice       {getattr(result, 'voice_dir', out)}{detail}")


class _Printer:
    """Turns training events into short lines (a live step line on a terminal)."""

    def __init__(self) -> None:
        self.tty = sys.stdout.isatty()
        self.live = False
        self.last_print = 0.0

    def __call__(self, event: Any) -> None:
        kind = getattr(event, "kind", "")
        if kind == "step":
            self._step(event)
            return
        self._end_live()
        if kind == "eval":
            loss = f"{event.loss_eval:.3f}" if event.loss_eval is not None else "?"
            spoken = ""
            if getattr(event, "similarity", None) is not None or getattr(event, "wer", None) is not None:
                sim = f"{event.similarity:.3f}" if event.similarity is not None else "?"
                wer = f"{event.wer:.0%}" if event.wer is not None else "?"
                spoken = f"; held-out texts spoken: similarity {sim}, WER {wer}"
            typer.echo(
                f"eval        step {event.step}: held-out loss {loss}{spoken}" + (f" ({event.message})" if event.message else "")
            )
        elif kind == "checkpoint":
            typer.echo(f"checkpoint  {event.path}")
        elif kind == "best":
            typer.echo(f"best        step {event.step} -> {event.path}")
        elif getattr(event, "message", ""):
            typer.echo(event.message)

    def _step(self, e: Any) -> None:
        loss = f"{e.loss_train:.3f}" if e.loss_train is not None else "?"
        speed = f"{e.seconds_per_step:.2f} s/step" if e.seconds_per_step else ""
        left = ""
        if e.seconds_per_step and e.max_steps:
            remaining = (e.max_steps - e.step) * e.seconds_per_step
            left = f", at most {remaining / 60:.0f} min left" if remaining >= 60 else ""
        line = f"step        {e.step}/{e.max_steps}  loss {loss}  {speed}{left}"
        if self.tty:
            typer.echo("\r" + line.ljust(78), nl=False)
            self.live = True
        elif time.monotonic() - self.last_print >= 30 or e.step == 1:
            typer.echo(line)
            self.last_print = time.monotonic()

    def _end_live(self) -> None:
        if self.live:
            typer.echo("")
            self.live = False

    def close(self) -> None:
        self._end_live()


def register(app: typer.Typer) -> None:
    app.command("finetune")(finetune)
