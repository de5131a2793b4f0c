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
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Compare a voice with your real held-out recordings: similarity, intelligibility, distortion, speed.

    Writes eval.html (scores, training curves and audio players for each sentence) and
    eval.json. Held-out recordings were never used in training.
    """
    from voicebank.bank.records import safe_id
    from voicebank.train.evaluate import EVAL_HTML, iter_evaluate, training_folder

    base = None if baseline.strip().lower() in ("", "none", "no") else baseline
    if out is None:
        folder = training_folder(voice)
        out = folder / "eval" if folder is not None else dataset / f"eval-{safe_id(Path(voice).name or voice)}"
    result = None
    for event in iter_evaluate(voice, dataset, baseline=base, out_dir=out, limit=limit, repeats=repeats):
        if event.kind == "utterance" and not as_json:
            typer.echo(f"  {event.voice}: {event.done}/{event.total} {event.message}", err=True)
        result = event.result or result
    assert result is not None
    if as_json:
        typer.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    rows = [("Voice", result["mean"]), ("Real recordings", result["real"]["mean"])]
    if result.get("baseline"):
        rows.insert(1, (f"Baseline {result['baseline']['voice']}", result["baseline"]["mean"]))
    typer.echo(f"{'':<22}{'similarity':>11}{'WER':>8}{'MCD dB':>8}{'RTF':>8}")
    for name, m in rows:
        typer.echo(
            f"{name[:21]:<22}{_num(m.get('similarity'), '.3f'):>11}{_num(m.get('wer'), '.1%'):>8}"
            f"{_num(m.get('mcd_db'), '.2f'):>8}{_num(m.get('rtf'), '.3f'):>8}"
        )
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
    typer.echo(f"Report: {out / EVAL_HTML}")


def _num(value: object, fmt: str) -> str:
    return "–" if value is None else format(value, fmt)


def register(app: typer.Typer) -> None:
    app.command("eval")(evaluate)
