"""``voicebank consent ...``: record the speaker's consent, record written consent, and show what is on file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

HELP = (
    "The speaker's consent, kept in the bank: voicebank makes a voice only from a bank whose speaker has said yes.\n\n"
    "Why: a voice made from recordings is a key to that person's identity. Services that clone voices for a living "
    "check consent before they train; voicebank does too, so that your voice stays yours and nobody can make it "
    "from recordings of you without you.\n\n"
    "What happens: 'consent record' shows a short statement naming you and today's date, ending in a random code "
    "phrase of three words. You read it aloud once. voicebank then checks, on this computer, that (1) the code words "
    "are heard in the recording (so it was made now, for this purpose), (2) the voice is the same as in the bank's "
    "takes (record at least a few takes first), and (3) it is not speech synthesized by voicebank (its watermark). "
    "Every attempt is kept in BANK/consent/; the latest one counts. Training ('voicebank train ...') refuses a bank "
    "without a passing consent.\n\n"
    "A partner or clinician operating the recorder for you: add --operator NAME. Recording on another device: "
    "'consent statement' issues the statement, then 'consent record --from-file' checks the recording. A person "
    "who can no longer speak: 'consent written' records the reason and who attests the consent."
)
app = typer.Typer(help=HELP, no_args_is_help=True)


@app.command("record")
def record(
    bank: Path = typer.Argument(..., help="The bank folder (its takes are the voice the statement is compared with).", show_default=False),
    speaker: Optional[str] = typer.Option(None, "--speaker", help="The speaker's name as it should be read (default: the name the bank was made with)."),
    operator: Optional[str] = typer.Option(None, "--operator", help="Who operates the recorder, when it is not the speaker (a partner, a clinician): recorded with the consent."),
    from_file: Optional[Path] = typer.Option(None, "--from-file", help="Check a recording made elsewhere (WAV/FLAC) of the statement that 'voicebank consent statement BANK' issued, instead of using the microphone."),
    device: Optional[str] = typer.Option(None, "--device", help="Microphone: a device number or part of its name (see 'voicebank record --list-devices')."),
    samplerate: Optional[int] = typer.Option(None, "--samplerate", help="Recording rate in Hz (default: the microphone's own)."),
) -> None:
    """Show the consent statement, record it being read aloud, check it and keep it in the bank."""
    from voicebank.provenance.consent import issued_statement, new_statement, save_take

    capture = None
    if from_file is not None:
        from voicebank.audio import read_audio, to_mono

        statement = issued_statement(bank)
        data, rate = read_audio(from_file)
        samples = to_mono(data)
        typer.echo(f"Checking {from_file} as a reading of:\n  {statement.text}")
    else:
        from voicebank.audio import to_mono

        statement = new_statement(speaker or _bank_speaker(bank))
        capture = _record_live(bank, statement.text, device, samplerate)
        samples, rate = to_mono(capture.samples), capture.sample_rate
    typer.echo("Checking the take (code words, voice, watermark)...")
    status = save_take(bank, samples, rate, statement, operator=operator)
    if capture is not None:
        capture.discard_spool()  # the take is in the bank now
    _print_checks(status.record or {})
    typer.secho(("PASSED: " if status.ok else "NOT PASSED: ") + status.detail,
                fg=typer.colors.GREEN if status.ok else typer.colors.RED)
    if not status.ok:
        raise typer.Exit(1)


@app.command("statement")
def statement(
    bank: Path = typer.Argument(..., help="The bank folder.", show_default=False),
    speaker: Optional[str] = typer.Option(None, "--speaker", help="The speaker's name as it should be read (default: the name the bank was made with)."),
) -> None:
    """Issue a statement with a fresh code phrase, for a recording made elsewhere (then: consent record --from-file)."""
    from voicebank.provenance.consent import issue_statement

    issued = issue_statement(bank, speaker or _bank_speaker(bank))
    _show(issued.text)
    typer.echo(f"Record it being read aloud (any recorder), then check it with:\n"
               f"  voicebank consent record {bank} --from-file RECORDING.wav\n"
               "Issuing a new statement replaces this one.")


@app.command("written")
def written(
    bank: Path = typer.Argument(..., help="The bank folder.", show_default=False),
    reason: str = typer.Option(..., "--reason", help="Why consent is written, not spoken (e.g. 'can no longer speak').", show_default=False),
    attested_by: str = typer.Option(..., "--attested-by", help="Who attests the written consent (name and role).", show_default=False),
) -> None:
    """Record written consent for a person who can no longer speak: the reason, and who attests it."""
    from voicebank.provenance.consent import save_written

    status = save_written(bank, reason=reason, attested_by=attested_by)
    typer.secho(f"Recorded: {status.detail}", fg=typer.colors.GREEN)


@app.command("status")
def status(
    bank: Path = typer.Argument(..., help="The bank folder.", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print every consent record as JSON."),
) -> None:
    """What consent is on file for the bank, and why it passed or failed (exit code 1 when none passes)."""
    import json

    from voicebank.provenance.consent import attempts, consent_status

    now = consent_status(bank)
    if as_json:
        typer.echo(json.dumps({"ok": now.ok, "how": now.how, "detail": now.detail, "attempts": attempts(bank)}, indent=2))
    else:
        records = attempts(bank)
        for rec in records:
            typer.echo(f"{rec.get('created', '?')}  {rec['how']:<18} {rec.get('verdict', '?')}")
        if records:
            typer.echo("The latest attempt counts:")
            _print_checks(records[-1])
        typer.secho(("Consent on file: " if now.ok else "No passing consent: ") + now.detail,
                    fg=typer.colors.GREEN if now.ok else typer.colors.RED)
    if not now.ok:
        raise typer.Exit(1)


@app.command("check")
def check(bank: Path = typer.Argument(..., help="The bank folder.", show_default=False)) -> None:
    """Check the latest consent take again (for example after recording the takes its voice is compared with)."""
    from voicebank.provenance.consent import recheck

    now = recheck(bank)
    _print_checks(now.record or {})
    typer.secho(("PASSED: " if now.ok else "NOT PASSED: ") + now.detail, fg=typer.colors.GREEN if now.ok else typer.colors.RED)
    if not now.ok:
        raise typer.Exit(1)


def _bank_speaker(bank: Path) -> str:
    from voicebank.durable import read_json_dict
    from voicebank.errors import UsageError

    name = str(read_json_dict(bank / "manifest.json", what="bank manifest").get("speaker") or "").strip()
    if not name:
        raise UsageError(f"The bank {bank} has no speaker name: give it with --speaker NAME.")
    return name


def _print_checks(record: dict) -> None:  # type: ignore[type-arg]
    if record.get("operator"):
        typer.echo(f"  operated by {record['operator']}")
    if record.get("how") == "written":
        typer.echo(f"  written consent: {record.get('reason')} (attested by {record.get('attested_by')})")
    for name, c in (record.get("checks") or {}).items():
        typer.echo(f"  {name.replace('_', ' ')}: {c.get('status')} - {c.get('detail')}")


def _show(text: str) -> None:
    """The statement in large letters, then as ordinary text."""
    import shutil

    from voicebank.record.bigtext import render

    width = shutil.get_terminal_size((100, 30)).columns
    typer.echo("\nPlease read this statement aloud, in your normal voice:\n")
    for line in render(text, max(20, width - 2)) or [text]:
        typer.echo(line)
    typer.echo(f"\n  {text}\n")


def _record_live(bank: Path, text: str, device: Optional[str], samplerate: Optional[int]) -> Any:
    """Show ``text`` in large letters and record it from the microphone (Enter starts, Enter stops).

    The capture is spooled to BANK/consent/.spool while it is recorded (kept until it is saved).
    """
    from voicebank.errors import UsageError
    from voicebank.provenance.consent import CONSENT_DIR
    from voicebank.record.capture import CaptureSettings, Recorder

    _show(text)
    spool = bank / CONSENT_DIR / ".spool"
    spool.mkdir(parents=True, exist_ok=True)
    settings = CaptureSettings(device=device, sample_rate=samplerate, max_take_s=90.0)
    with Recorder(spool, settings) as rec:
        typer.prompt("Press Enter, then read the statement", default="", show_default=False, prompt_suffix="")
        rec.start("consent", text, "consent")
        typer.prompt("Recording... press Enter when you have finished", default="", show_default=False, prompt_suffix="")
        cap = rec.stop()
    if cap is None or cap.duration < 1.0:
        raise UsageError("Nothing was recorded. Check the microphone (voicebank record --list-devices) and try again.")
    return cap


def register(main_app: typer.Typer) -> None:
    """Add ``consent`` to the main app."""
    main_app.add_typer(app, name="consent")


__all__ = ["register"]
