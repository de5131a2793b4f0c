"""``voicebank train instant DATA --out VOICE``: a first voice in minutes, without training (see issue 21)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

if TYPE_CHECKING:
    from voicebank.train.instant import InstantEvent


def instant(
    data: Path = typer.Argument(
        ..., help="A dataset made by 'voicebank train prepare' (only its training split is used), "
        "or a folder of the person's recordings (wav files; no transcripts needed).", show_default=False,
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Folder for the new voice (new, or an instant voice to replace).", show_default=False),
    minutes: float = typer.Option(25.0, "--minutes", "-m", help="Time budget. The shipped-voice screen and the walk's first "
                                  "model steps always complete (on a slow machine that can take longer; it says so); "
                                  "the search stops earlier when validation stops improving."),
    seed: int = typer.Option(0, "--seed", help="Seed of the search: the same seed takes the same path."),
    name: Optional[str] = typer.Option(None, "--name", help="The voice's name (default: the folder's name)."),
    max_steps: Optional[int] = typer.Option(None, "--max-steps", min=0, help="Stop the walk after this many steps "
                                            "(reproducible to the step, whatever the machine's speed)."),
    voices: Optional[str] = typer.Option(None, "--voices", help="Comma-separated shipped Kokoro voices to start "
                                         "from (default: all 28 English ones, e.g. af_heart,bf_emma)."),
    guard: bool = typer.Option(True, "--guard/--no-guard", help="Keep a searched voice only if a second verifier "
                               "(Resemblyzer) agrees it is no less like the person than the starting blend. "
                               "--no-guard follows ECAPA alone (see docs/instant-voice.md)."),
    threads: int = typer.Option(1, "--threads", min=1, help="CPU threads for speech and the verifiers."),
    as_json: bool = typer.Option(False, "--json", help="Print the voice's card as JSON."),
    without_consent: Optional[str] = typer.Option(
        None, "--without-consent", metavar="REASON", help="Make the voice although DATA carries no passing consent "
        "(a plain folder of recordings never does); the reason goes into the voice's card.",
    ),
) -> None:
    """Make an instant voice: Kokoro-82M with a voice searched to sound like the person.

    No training: Kokoro's shipped English voices are scored against the person's recordings with a speaker verifier (ECAPA), the best are blended, and a search moves the blend closer, checked on other recordings so it does not overfit. About 15-35 minutes on one CPU core.

    Use it as a first voice while the trained one is made; compare both with 'voicebank train eval'.

    DATA must carry the speaker's consent (a dataset made by 'voicebank train prepare' from a bank with their consent on file), or give --without-consent "reason"; either goes into the voice's card.

    Example:

      voicebank train instant ~/my-voice-data --out ~/voices/me-instant
    """
    from voicebank.train.consent_gate import dataset_consent
    from voicebank.train.instant import InstantSettings, find_clips, make_instant_voice

    find_clips(data)  # data that is no use is refused as such, before consent is asked about
    consent = dataset_consent(data, without_consent)  # before minutes of work
    settings = InstantSettings(
        minutes=minutes, seed=seed, max_steps=max_steps, threads=threads, guard=guard,
        voices=tuple(v.strip() for v in voices.split(",") if v.strip()) if voices else (),
    )
    card = make_instant_voice(data, out, settings, name=name, on_event=None if as_json else _progress, consent=consent)
    if as_json:
        typer.echo(json.dumps(card, indent=2, ensure_ascii=False))
        return
    _print_summary(card, out, data)


def _progress(event: "InstantEvent") -> None:
    left = max(0.0, event.budget - event.elapsed)
    clock = f"[{event.elapsed / 60:4.1f} min, at most {left / 60:.1f} left]"
    if event.kind in ("target", "walk"):
        typer.echo(f"{clock} {event.message}", err=True)
    elif event.kind == "screen":
        typer.echo(f"{clock} shipped voice {event.done}/{event.total} {event.message}: {event.score:.3f}", err=True)
    elif event.kind == "blend":
        typer.echo(f"{clock} {event.message}: {event.score:.3f}", err=True)
    elif event.kind == "step":
        best = "–" if event.validation is None else f"{event.validation:.3f}"
        typer.echo(f"{clock} step {event.done}: guide {event.score:.3f}, best validation {best}", err=True)


def _print_summary(card: dict, out: Path, data: Path) -> None:
    search = card.get("search", {})
    shipped = search.get("best_shipped")
    typer.echo(f"Instant voice {out} ({search.get('seconds', 0) / 60:.1f} min; {search.get('stopped', '')})")
    typer.echo("ECAPA similarity to the person (guide = what the search heard, validation = other recordings):")
    start, best = search.get("start", {}), search.get("best", {})
    rows = [(f"best shipped voice ({shipped}), screen sentences", search["screen"][shipped], None)] if shipped else []
    rows.append(("start: the best voice or blend", start.get("guide"), start.get("validation")))
    rows.append((f"kept after {search.get('steps', 0)} steps of the walk", None, best.get("validation")))
    typer.echo(f"  {'':<52}{'guide':>8}{'validation':>12}")
    for label, guide, val in rows:
        typer.echo(f"  {label:<52}{_num(guide):>8}{_num(val):>12}")
    if (data / "metadata.csv").is_file():
        typer.echo("These scores guided the search; the held-out recordings judge it:")
        typer.echo(f"  voicebank train eval {out} --dataset {data}")
    else:
        typer.echo("These scores guided the search. To judge it on held-out recordings, import the recordings into a bank,")
        typer.echo("make a dataset with 'voicebank train prepare', and run 'voicebank train eval VOICE --dataset DATASET'.")
    typer.echo("Listen to it:")
    typer.echo(f'  voicebank speak --voice {out} "Hello, this is my instant voice."')


def _num(value: object) -> str:
    return "–" if value is None else f"{value:.3f}"


def register(app: typer.Typer) -> None:
    """Register ``train instant`` on the train group."""
    app.command("instant")(instant)
