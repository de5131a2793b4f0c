"""``voicebank train eval VOICE --dataset D``: score a voice on the held-out recordings, next to the stock voice."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer


def evaluate(
    voice: str = typer.Argument(
        ..., help="The voice: a voice folder, an .onnx file, a name from your voices, or 'joe'.", show_default=False
    ),
    dataset: Path = typer.Option(..., "--dataset", "-d", help="The dataset made by 'voicebank train prepare'.", show_default=False),
    baseline: str = typer.Option("joe", "--baseline", help="Voice to compare with; 'none' for no comparison."),
    out: Optional[Path] = typer.Option(
        None, "--out", help="Folder for eval.json, eval.html and the audio (default: VOICE/eval, or DATASET/eval-VOICE)."
    ),
    limit: Optional[int] = typer.Option(None, "--limit", help="Score only the first N held-out utterances."),
    repeats: int = typer.Option(
        1, "--repeats", "-r", min=1,
        help="Speak each held-out text this many times (fresh noise each time) and pool the scores; "
        "with a handful of sentences one take's WER swings by several points, so use 3-5 to compare voices.",
    ),
    whisper: str = typer.Option(
        "base", "--whisper", help="Whisper model that scores intelligibility: 'base', or 'tiny.en' (quicker, coarser)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Compare a voice with your real held-out recordings: similarity, intelligibility, distortion, speed.

    Two sets of scores: ECAPA speaker similarity and Whisper word/character error rates, each with a 95 % interval over the held-out sentences (what the field reports; training never sees them), and the quick Resemblyzer similarity and PocketSphinx WER that training can log. The real recordings are scored too: their numbers are the ceiling to read the voice's against.

    Writes eval.html (scores, training curves and audio players for each sentence) and eval.json. Held-out recordings were never used in training.
    """
    from voicebank.bank.records import safe_id
    from voicebank.train.evaluate import EVAL_HTML, iter_evaluate, training_folder

    base = None if baseline.strip().lower() in ("", "none", "no") else baseline
    if out is None:
        folder = training_folder(voice)
        out = folder / "eval" if folder is not None else dataset / f"eval-{safe_id(Path(voice).name or voice)}"
    result = None
    events = iter_evaluate(voice, dataset, baseline=base, out_dir=out, limit=limit, repeats=repeats, whisper=whisper)
    for event in events:
        if event.kind == "utterance" and not as_json:
            typer.echo(f"  {event.voice}: {event.done}/{event.total} {event.message}", err=True)
        result = event.result or result
    assert result is not None
    if as_json:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    _print_tables(result)
    typer.echo(f"Report: {out / EVAL_HTML}")


def _print_tables(result: dict) -> None:
    """The scores as two tables (the field's with intervals, then the quick ones), takes and gain."""
    rows = [("Voice", result["mean"]), ("Real recordings", result["real"]["mean"])]
    if result.get("baseline"):
        rows.insert(1, (f"Baseline {result['baseline']['voice']}", result["baseline"]["mean"]))
    typer.echo(f"{'':<22}{'ECAPA sim':>20}{'Whisper WER':>20}{'Whisper CER':>20}")
    for name, m in rows:
        typer.echo(
            f"{name[:21]:<22}{_ci(m, 'similarity_ecapa', '.3f'):>20}{_ci(m, 'wer_whisper', '.1%'):>20}"
            f"{_ci(m, 'cer_whisper', '.1%'):>20}"
        )
    typer.echo(f"\n{'':<22}{'similarity':>11}{'WER':>8}{'MCD dB':>8}{'RTF':>8}")
    for name, m in rows:
        typer.echo(
            f"{name[:21]:<22}{_num(m.get('similarity'), '.3f'):>11}{_num(m.get('wer'), '.1%'):>8}"
            f"{_num(m.get('mcd_db'), '.2f'):>8}{_num(m.get('rtf'), '.3f'):>8}"
        )
    typer.echo("(first table: the scores that report success, with 95 % intervals; second: the quick scores training can log)")
    takes = result.get("repeats") or {}
    if takes.get("count", 1) > 1:
        for label, summary in (("Voice", takes.get("voice")), ("Baseline", takes.get("baseline"))):
            if summary:
                sd = summary["sd"]
                typer.echo(
                    f"{label} over {takes['count']} takes: similarity sd {_num(sd['similarity'], '.3f')}, "
                    f"WER sd {_num(sd['wer'], '.1%')} (the table pools every take)"
                )
    if result.get("gain"):
        g = result["gain"]
        typer.echo(
            f"Gain over the baseline (positive is better): similarity {_num(g['similarity'], '+.3f')}, "
            f"WER {_num(g['wer'], '+.1%')}, MCD {_num(g['mcd_db'], '+.2f')} dB"
        )
        if g.get("gap_closed_ecapa") is not None:
            typer.echo(
                f"ECAPA similarity: the voice has come {g['gap_closed_ecapa']:.0%} of the way from the baseline "
                "to the real recordings"
            )


def _num(value: object, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def _ci(mean: dict, key: str, fmt: str) -> str:
    """A mean with its interval: '0.912 [0.90, 0.93]'."""
    bounds = mean.get(f"{key}_ci95")
    if mean.get(key) is None or not bounds or None in bounds:
        return _num(mean.get(key), fmt)
    short = fmt.replace("3f", "2f").replace("1%", "0%")
    return f"{format(mean[key], fmt)} [{format(bounds[0], short)}, {format(bounds[1], short)}]"


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate)
