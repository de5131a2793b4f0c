"""``voicebank bench ...``: benchmarks that print JSON (speed targets live here, not in unit tests)."""

from __future__ import annotations

from typing import List

import typer

app = typer.Typer(help="Benchmarks (latency, real-time factor, one-shot startup, quality-check time, the server); each prints a report, or JSON with --json.", no_args_is_help=True)

_PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


@app.command("latency", context_settings=_PASS_THROUGH, add_help_option=False)
def latency(ctx: typer.Context, args: List[str] = typer.Argument(None, hidden=True)) -> None:
    """Time to first audio and real-time factor of the streaming engine vs piper-tts (--help for options)."""
    from voicebank.benchmarks.latency import main

    raise typer.Exit(main(list(args or []) + list(ctx.args)))


@app.command("narrate", context_settings=_PASS_THROUGH, add_help_option=False)
def narrate(ctx: typer.Context, args: List[str] = typer.Argument(None, hidden=True)) -> None:
    """The whole narration pipeline on the sample book: real-time multiple, each stage's share, plain piper beside it (--help for options)."""
    from voicebank.benchmarks.narrate import main

    raise typer.Exit(main(list(args or []) + list(ctx.args)))


@app.command("qc", context_settings=_PASS_THROUGH, add_help_option=False)
def qc(ctx: typer.Context, args: List[str] = typer.Argument(None, hidden=True)) -> None:
    """Time of the quality checks on one 15-second 48 kHz take (--help for options)."""
    from voicebank.benchmarks.qc import main

    raise typer.Exit(main(list(args or []) + list(ctx.args)))


@app.command("startup", context_settings=_PASS_THROUGH, add_help_option=False)
def startup(ctx: typer.Context, args: List[str] = typer.Argument(None, hidden=True)) -> None:
    """One-shot 'speak --out' wall time against 'python -m piper' on the same voice (--help for options)."""
    from voicebank.benchmarks.startup import main

    raise typer.Exit(main(list(args or []) + list(ctx.args)))


@app.command("serve", context_settings=_PASS_THROUGH, add_help_option=False)
def serve(ctx: typer.Context, args: List[str] = typer.Argument(None, hidden=True)) -> None:
    """First audio byte over loopback (WebSocket, OpenAI endpoint, the engine) and concurrent real-time clients (--help for options)."""
    from voicebank.benchmarks.serve import main

    raise typer.Exit(main(list(args or []) + list(ctx.args)))


@app.command("verifier", context_settings=_PASS_THROUGH, add_help_option=False)
def verifier(ctx: typer.Context, args: List[str] = typer.Argument(None, hidden=True)) -> None:
    """Calibrate the speaker verifiers on real same- and different-speaker pairs: scores, EER, threshold (--help for options)."""
    from voicebank.benchmarks.verifier import main

    raise typer.Exit(main(list(args or []) + list(ctx.args)))


@app.command("watermark", context_settings=_PASS_THROUGH, add_help_option=False)
def watermark(ctx: typer.Context, args: List[str] = typer.Argument(None, hidden=True)) -> None:
    """The watermark: detection (clean, MP3, 16 kHz), false positives on real speech, cost, latency, audibility (--help for options)."""
    from voicebank.benchmarks.watermark import main

    raise typer.Exit(main(list(args or []) + list(ctx.args)))


@app.command("wyoming", context_settings=_PASS_THROUGH, add_help_option=False)
def wyoming(ctx: typer.Context, args: List[str] = typer.Argument(None, hidden=True)) -> None:
    """Time to the first Wyoming audio-chunk: voicebank's Wyoming server against wyoming-piper on the same voice (--help for options)."""
    from voicebank.benchmarks.wyoming import main

    raise typer.Exit(main(list(args or []) + list(ctx.args)))


@app.command("consent", context_settings=_PASS_THROUGH, add_help_option=False)
def consent(ctx: typer.Context, args: List[str] = typer.Argument(None, hidden=True)) -> None:
    """Calibrate the consent take's checks (speaker threshold, code words) on real speech found offline (--help for options)."""
    from voicebank.benchmarks.consent import main

    raise typer.Exit(main(list(args or []) + list(ctx.args)))
