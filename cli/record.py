"""``voicebank record BANK``: the terminal recorder."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

HELP = (
    "Record your voice, one sentence at a time, into a voice bank.\n\n"
    "Each sentence is shown in large letters. Press SPACE, read it, press SPACE again "
    "(or use --mode auto: recording starts when you speak and stops when you pause). "
    "Every take is saved the moment it ends, with a quality check; press a to keep it, "
    "r to record it again, p to hear it, s to skip, l for later, b to go back, ? for help, q to quit. "
    "Next time you start where you left off.\n\n"
    "Before you start:\n\n"
    "- Sit upright and comfortable in a quiet room with soft furnishings (curtains, a sofa); "
    "switch off fans, the TV and anything that hums.\n\n"
    "- Keep the microphone at the same distance every time: a headset mic a thumb's width from "
    "the corner of your mouth, or a desk mic a hand-span (15-20 cm) away, a little to one side "
    "so your breath does not hit it.\n\n"
    "- Record in short sessions of 20-30 minutes, at the time of day your voice is strongest; "
    "a break is suggested every --break-minutes. Stop when tired: a few good sentences are worth "
    "more than many tired ones.\n\n"
    "- A helper can sit at the keyboard while you speak.\n\n"
    "Nothing is lost if the window is closed or the computer stops: the audio is on disk while "
    "you speak and is recovered the next time you run this command."
)


def record(
    bank: Optional[Path] = typer.Argument(
        None, help="The bank folder (make one with 'voicebank bank new BANK').", show_default=False
    ),
    script: Optional[str] = typer.Option(
        None, "--script", help="Prompt script to read (default: the bank's own; see 'voicebank prompts list')."
    ),
    messages: bool = typer.Option(
        False,
        "--messages",
        help="Record message-banking phrases (your own first, then suggestions) instead of the script."
    ),
    mode: str = typer.Option(
        "push", "--mode", help="push: SPACE starts and stops each take. auto: speaking starts it, a pause stops it."
    ),
    device: Optional[str] = typer.Option(
        None, "--device", help="Microphone: a device number or part of its name (see --list-devices)."
    ),
    output_device: Optional[str] = typer.Option(
        None, "--output-device", help="Speakers or headphones for playback: a number or part of the name."
    ),
    samplerate: Optional[int] = typer.Option(
        None, "--samplerate", help="Recording rate in Hz (default: the microphone's own, usually 44100 or 48000)."
    ),
    break_minutes: float = typer.Option(
        20.0, "--break-minutes", min=0, help="Suggest a break after this many minutes (0: never)."
    ),
    list_devices: bool = typer.Option(False, "--list-devices", help="List microphones and speakers, then exit."),
) -> None:
    from voicebank.errors import UsageError
    from voicebank.record.capture import MODES, CaptureSettings
    from voicebank.record.capture import list_devices as devices

    if list_devices:
        _list_devices(devices())
        return
    if bank is None:
        raise UsageError("Give the bank folder to record into: voicebank record BANK (make one with "
                         "'voicebank bank new BANK').")
    if mode not in MODES:
        raise UsageError(f"--mode must be one of {', '.join(MODES)}, not {mode!r}.")
    if samplerate is not None and samplerate < 8000:
        raise UsageError(f"--samplerate {samplerate} is too low for a voice bank; use 44100 or 48000.")

    from voicebank.record.tui import run_recorder

    settings = CaptureSettings(mode=mode, device=device, sample_rate=samplerate)
    out = run_recorder(
        bank, settings=settings, script=script, messages=messages,
        output_device=output_device, break_minutes=break_minutes,
    )
    _report(out)
    codes = {"hangup": 129, "terminated": 143, "interrupted": 130}
    if out.reason in codes:  # stopped by a signal: say so to whoever started us
        raise typer.Exit(codes[out.reason])
    if out.unsaved:  # the world got in the way (a full disk): not a clean session
        raise typer.Exit(2)


def _list_devices(found: list) -> None:  # type: ignore[type-arg]
    """Print the sound devices, or say plainly that there are none."""
    for d in found:
        marks = [m for m, on in (("default input", d["default_input"]), ("default output", d["default_output"])) if on]
        typer.echo(
            f"{d['index']:>3}  {d['name']}  ({d['inputs']} in, {d['outputs']} out, "
            f"{d['default_samplerate']:.0f} Hz){'  <- ' + ', '.join(marks) if marks else ''}"
        )
    if not found:
        typer.echo("No microphones or speakers were found. Plug one in (or switch it on), check that the "
                   "sound system is running, then list them again.")
    elif not any(d["inputs"] for d in found):
        typer.echo("None of these is a microphone: plug one in to record.")


def _report(out: object) -> None:
    """The goodbye lines (best effort: after a hang-up there is no terminal to print on)."""
    from voicebank.record.tui import Outcome

    assert isinstance(out, Outcome)
    pr = out.progress
    lines = [
        f"Saved {out.saved} take{'s' if out.saved != 1 else ''} this session ({out.accepted} kept).",
        f"{pr.done} of {pr.total} prompts done, {pr.speech_minutes:.1f} min of speech"
        + (f", sound coverage {100 * pr.coverage:.0f}%." if pr.coverage is not None else "."),
    ]
    if out.unsaved:
        n = len(out.unsaved)
        lines.append(f"{n} take{'s' if n != 1 else ''} could not be saved: {out.unsaved[-1]}")
    if out.recovered:
        lines.append(f"{out.recovered} recording(s) from an interrupted session were recovered as pending takes.")
    if out.next_prompt is not None:
        lines.append(f"Next time you start at {out.next_prompt.id}: {out.next_prompt.text}")
    else:
        lines.append("Every prompt is recorded. Thank you!")
    try:
        for line in lines:
            typer.echo(line)
    except OSError:
        pass


def register(app: typer.Typer) -> None:
    """Add ``record`` to the main app."""
    app.command("record", help=HELP, no_args_is_help=True)(record)


__all__ = ["register"]
