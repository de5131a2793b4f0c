"""``voicebank prompts ...``: show the shipped recording script and its phonetic coverage."""

from __future__ import annotations

import json

import typer

from voicebank.bank.prompts import (
    CHECKPOINTS,
    DEFAULT_MESSAGES,
    DEFAULT_SCRIPT,
    list_message_lists,
    list_scripts,
    load_messages,
    load_script,
    open_script,
)
from voicebank.errors import UsageError, VoicebankError

app = typer.Typer(
    help=(
        "Sentences to record. The script is ordered so that the first prompts cover the "
        "most speech sounds: record from the top and stop whenever you need to. "
        "Message banking suggestions (--messages) are phrases kept in your own voice "
        "and played back exactly as recorded."
    ),
    no_args_is_help=True,
)


def _fail(error: VoicebankError) -> typer.Exit:
    typer.secho(f"error: {error}", fg=typer.colors.RED, err=True)
    return typer.Exit(error.exit_code)


@app.command("list")
def list_prompts(
    script: str = typer.Option(DEFAULT_SCRIPT, "--script", help="Script to show."),
    messages: bool = typer.Option(
        False, "--messages", help="Show the message banking suggestions instead of the script."
    ),
    limit: int = typer.Option(20, "--limit", min=0, help="How many prompts to show (0 = all)."),
    start: int = typer.Option(1, "--start", min=1, help="Number of the first prompt to show."),
) -> None:
    """Print prompts with their ids, in recording order."""
    try:
        prompts = load_messages(DEFAULT_MESSAGES) if messages else load_script(script)
    except VoicebankError as e:
        raise _fail(e) from e
    shown = prompts[start - 1 : start - 1 + limit] if limit else prompts[start - 1 :]
    category = None
    for prompt in shown:
        if prompt.category and prompt.category != category:
            category = prompt.category
            typer.echo(f"\n[{category}]" if prompt is not shown[0] else f"[{category}]")
        typer.echo(f"{prompt.id}  {prompt.text}")
    end = start - 1 + len(shown)
    what = "message suggestions" if messages else f"prompts of {script}"
    typer.echo(f"\n{len(shown)} shown ({start}-{end}) of {len(prompts)} {what}.", err=True)


@app.command("coverage")
def coverage(
    script: str = typer.Option(DEFAULT_SCRIPT, "--script", help="Script to measure."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Diphone coverage after the first 50, 150, 300 and 1000 prompts of a script."""
    try:
        loaded = open_script(script)
    except VoicebankError as e:
        raise _fail(e) from e
    ids = [p.id for p in loaded.prompts]
    points = loaded.coverage_curve(ids, CHECKPOINTS)
    total = loaded.coverage_curve(ids, (len(ids),))[0]
    den = loaded.denominator
    if as_json:
        data = {
            "script": loaded.name,
            "prompts": len(ids),
            "phonemizer": loaded.phonemizer,
            "denominator": {
                "diphones": len(den.counts),
                "words": den.words,
                "how": den.description,
            },
            "checkpoints": [
                {
                    "checkpoint": n,
                    "prompts": p.prompts,
                    "covered": p.covered,
                    "total": p.total,
                    "coverage": round(p.fraction, 4),
                    "weighted": round(p.weighted, 4),
                }
                for n, p in zip(CHECKPOINTS, points)
            ],
            "whole_script": {"covered": total.covered, "coverage": round(total.fraction, 4)},
        }
        typer.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    typer.echo(f"Script {loaded.name}: {len(ids)} prompts, phones from {loaded.phonemizer}.")
    typer.echo(f"Denominator: {len(den.counts)} diphones, the {den.description}.")
    typer.echo("")
    typer.echo(" first N prompts   diphones covered   coverage   weighted by word-list frequency")
    for n, p in zip(CHECKPOINTS, points):
        note = "" if p.prompts == n else f"  (the script has only {p.prompts})"
        typer.echo(_row(str(n), p.covered, p.total, p.fraction) + f"   {p.weighted:>7.1%}{note}")
    typer.echo(_row(f"all {len(ids)}", total.covered, total.total, total.fraction))


def _row(label: str, covered: int, total: int, fraction: float) -> str:
    return f" {label:>15}   {covered:>6} / {total:<7}   {fraction:>7.1%}"


@app.command("scripts")
def scripts() -> None:
    """Name the shipped scripts and message suggestion lists."""
    names = list_scripts()
    if not names:
        raise _fail(UsageError("no prompt scripts are installed; reinstall voicebank"))
    for name in names:
        typer.echo(f"{name}  ({len(open_script(name).prompts)} prompts)")
    for name in list_message_lists():
        typer.echo(f"{name}  ({len(load_messages(name))} message suggestions)")
