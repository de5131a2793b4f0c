"""``voicebank bank ...``: create, inspect, check, verify, export and import voice banks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, List, Optional

import typer

from voicebank.errors import UsageError

if TYPE_CHECKING:
    from voicebank.bank.store import Bank

app = typer.Typer(
    help=(
        "Create and look after a voice bank: a folder holding every take you record, "
        "checked and checksummed so nothing is lost.\n\n"
        "Typical use:  voicebank bank new ~/my-voice   then   voicebank record ~/my-voice"
    ),
    no_args_is_help=True,
)
message_app = typer.Typer(
    help="Message banking: phrases of your own (names, sayings, 'I love you') recorded to be played back exactly.",
    no_args_is_help=True,
)
app.add_typer(message_app, name="message")

BankArg = typer.Argument(..., help="The bank folder.", show_default=False)
JsonOpt = typer.Option(False, "--json", help="Print machine-readable JSON.")


def _echo_json(data: object) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


@app.command("new")
def new(
    bank: Path = BankArg,
    speaker: str = typer.Option("", help="Name of the person whose voice this is."),
    script: str = typer.Option("en-core", help="Prompt script to read (see 'voicebank prompts list')."),
) -> None:
    """Create a new, empty voice bank folder."""
    from voicebank.bank.store import Bank

    with Bank.create(bank, speaker=speaker, script=script) as b:
        typer.echo(f"Created voice bank {b.root} (script {script}). Next: voicebank record {b.root}")


@app.command("status")
def status(bank: Path = BankArg, as_json: bool = JsonOpt) -> None:
    """How much is recorded: prompts, takes, minutes of speech, QC verdicts (also on a damaged bank)."""
    with _open_to_read(bank) as b:
        st = b.status()
    if as_json:
        _echo_json(st.to_dict())
        return
    for line in st.damage:
        typer.echo(f"Damaged     {line}")
    typer.echo(f"Bank        {st.path}" + (f"  ({st.speaker})" if st.speaker else ""))
    typer.echo(f"Prompts     {st.prompts} ({st.prompts_with_takes} with takes, {st.chosen} with a chosen take)")
    typer.echo(f"Takes       {st.takes}: " + ", ".join(f"{v} {k}" for k, v in st.by_status.items() if v))
    typer.echo("QC          " + (", ".join(f"{v} {k}" for k, v in sorted(st.by_verdict.items())) or "none yet"))
    typer.echo(f"Speech      {st.speech_minutes:.1f} min in chosen takes ({st.all_minutes:.1f} min in all takes)")
    if st.flagged:
        typer.echo("Marked      " + ", ".join(f"{v} {k}" for k, v in st.flagged.items()))
    if st.unfinished_captures:
        typer.echo(
            f"Unfinished  {st.unfinished_captures} recordings of an interrupted session wait in .inprogress; "
            "the next 'voicebank record' saves them as takes."
        )
    if st.recovered:
        typer.echo(f"Recovered   {st.recovered} takes were saved by crash recovery; listen to them once.")
    if st.damage:
        _warn_damaged(st.damage, bank)


@app.command("verify")
def verify(bank: Path = BankArg, as_json: bool = JsonOpt) -> None:
    """Re-read every take and compare it with its checksum; exit 1 if anything is wrong."""
    with _open_to_read(bank) as b:
        rep = b.verify()
    if as_json:
        _echo_json(rep.to_dict())
    else:
        typer.echo(f"Checked {rep.checked} takes.")
        for label, items in (
            ("records damaged", rep.damage),
            ("missing", rep.missing),
            ("damaged", rep.corrupt),
            ("not in the records", rep.orphans),
        ):
            for item in items:
                typer.echo(f"  {label}: {item}")
        if rep.leftovers:
            typer.echo(f"  {len(rep.leftovers)} leftovers of an interrupted save (cleaned on the next recording session)")
        typer.echo(
            "All takes are intact."
            if rep.ok
            else "PROBLEMS FOUND: do not delete anything. Rebuild a bank from every intact take with: "
            f"voicebank bank salvage {bank} NEW_FOLDER (this bank is never changed), or import an export made earlier."
        )
    raise typer.Exit(0 if rep.ok else 1)


@app.command("export")
def export(
    bank: Path = BankArg,
    archive: Optional[Path] = typer.Argument(
        None, help="Archive file to write, or a folder for it (default: BANK-YYYYMMDD.vbank.tar beside the bank)."
    ),
) -> None:
    """Pack the whole bank (takes, manifest, checksums) into one archive file for safekeeping."""
    from datetime import date

    from voicebank.bank.archive import export_bank

    name = f"{bank.name}-{date.today():%Y%m%d}.vbank.tar"
    out = archive / name if archive is not None and archive.is_dir() else archive or bank.with_name(name)
    index = export_bank(bank, out)
    size = out.stat().st_size / 1e6
    typer.echo(f"Exported {index['takes']} takes ({len(index['files'])} files, {size:.1f} MB) to {out}")
    if index.get("lock_note"):
        typer.echo(f"note: {index['lock_note']}", err=True)
    if index["damage"]:
        typer.echo("The bank was packed as it is, damage included, so that nothing more is lost.", err=True)
        _warn_damaged(index["damage"], bank)


@app.command("import")
def import_(
    archive: Path = typer.Argument(..., help="An archive made by 'voicebank bank export'."),
    dest: Path = typer.Argument(..., help="New folder for the bank."),
) -> None:
    """Recreate a bank from an export archive, checking every file's checksum."""
    from voicebank.bank.archive import import_bank

    with import_bank(archive, dest) as b:
        typer.echo(f"Imported {len(b.takes)} takes into {b.root}; every checksum matched.")
        if b.damage:
            typer.echo("The archive holds a bank that was already damaged when it was exported.", err=True)
            _warn_damaged(b.damage, b.root)


@app.command("import-audio")
def import_audio(
    bank: Path = BankArg,
    sources: List[Path] = typer.Argument(
        ..., help="An LJSpeech-style folder (wavs/ + metadata.csv), or long recordings to cut into utterances."
    ),
    transcript: Optional[Path] = typer.Option(
        None,
        help="For a long recording: subtitles (.srt/.vtt), an Audacity label file (start end text), "
        "or plain text with one line per utterance.",
    ),
    speaker: str = typer.Option("", help="Speaker name, when the bank is created by this command."),
) -> None:
    """Bring existing recordings into a bank (created if missing); every take is quality-checked."""
    from voicebank.bank.importer import Importer, cues_for, is_ljspeech_folder
    from voicebank.bank.store import MANIFEST, Bank

    for src in sources:
        if not src.exists():
            raise UsageError(f"{src} does not exist.")
        if src.is_dir() and not is_ljspeech_folder(src):
            raise UsageError(f"{src} is a folder but not an LJSpeech dataset (it needs wavs/ and metadata.csv).")
    if transcript is not None and (len(sources) != 1 or sources[0].is_dir()):
        raise UsageError("--transcript goes with exactly one long recording.")
    if (bank / MANIFEST).exists():
        b = Bank.open(bank)
    else:
        b = Bank.create(bank, speaker=speaker, script="imported")
    counts = {"pass": 0, "warn": 0, "fail": 0, "skipped": 0}
    with b:
        imp = Importer(b)
        for src in sources:
            events = imp.import_ljspeech(src) if src.is_dir() else imp.import_long(src, cues_for(src, transcript))
            for ev in events:
                if ev.kind == "segmented":
                    typer.echo(f"{ev.source}: {ev.message}")
                elif ev.kind == "skipped":
                    counts["skipped"] += 1
                    typer.echo(f"  skipped {ev.source}: {ev.message}")
                else:
                    counts[ev.verdict] = counts.get(ev.verdict, 0) + 1
                    typer.echo(f"  {ev.take_id:<24} {ev.duration:5.1f} s  {ev.verdict}")
                    for p in ev.problems:
                        typer.echo(f"      {p}")
        st = b.status()
    typer.echo(
        f"Bank {st.path}: {st.takes} takes, {st.speech_minutes:.1f} min of speech in chosen takes "
        f"({counts['pass']} pass, {counts['warn']} warn, {counts['fail']} fail, {counts['skipped']} skipped)."
    )
    if counts["skipped"] and not st.takes:
        raise typer.Exit(1)
    raise typer.Exit(1 if counts["skipped"] else 0)


@app.command("add-take")
def add_take(
    bank: Path = BankArg,
    prompt: str = typer.Argument(..., help="Prompt id (see 'voicebank bank takes BANK')."),
    file: Path = typer.Argument(..., help="A WAV/FLAC file holding one utterance (16-bit or better)."),
) -> None:
    """Offer an existing recording as a take of one prompt (QC runs on it)."""
    from voicebank.bank.importer import Importer
    from voicebank.bank.store import Bank

    with Bank.open(bank) as b:
        ev = Importer(b).add_take_file(prompt, file)
    typer.echo(f"Saved {ev.take_id} ({ev.duration:.1f} s): {ev.verdict}")
    for p in ev.problems:
        typer.echo(f"  {p}")


@app.command("check")
def check(
    files: List[Path] = typer.Argument(..., help="Audio files to check."),
    text: Optional[str] = typer.Option(None, help="What the file says (enables the speaking-rate measure)."),
    as_json: bool = JsonOpt,
) -> None:
    """Quality-check audio files: level, clipping, noise, silence, cut-off speech, format.

    A lone file gets the absolute checks only; inside a bank every take is also compared with the speaker's own usual duration and speaking rate. Exit 1 if any file fails.
    """
    from voicebank.bank.qc import check_file
    from voicebank.errors import AudioFormatError

    results = {}
    worst = "pass"
    for f in files:
        try:
            rep = check_file(f, text=text)
        except AudioFormatError as exc:
            results[str(f)] = {"verdict": "fail", "error": str(exc)}
            worst = "fail"
            if not as_json:
                typer.echo(f"{f}: FAIL  {exc}")
            continue
        results[str(f)] = rep.to_dict()
        if rep.verdict == "fail" or (rep.verdict == "warn" and worst == "pass"):
            worst = rep.verdict
        if not as_json:
            m = rep.measures
            typer.echo(
                f"{f}: {rep.verdict.upper()}  ({m.get('duration_s', 0):.1f} s, peak {m.get('peak_dbfs', 0):.1f} dBFS, "
                f"SNR {m.get('snr_db', 0):.0f} dB)"
            )
            for c in rep.problems():
                typer.echo(f"  {c.verdict:<4} {c.name}: {c.message}")
    if as_json:
        _echo_json(results)
    raise typer.Exit(1 if worst == "fail" else 0)


@app.command("takes")
def takes(
    bank: Path = BankArg,
    prompt: Optional[str] = typer.Argument(None, help="Only this prompt's takes."),
    as_json: bool = JsonOpt,
) -> None:
    """List takes with their status, QC verdict and which one is chosen."""
    with _open_to_read(bank) as b:
        rows = [t for t in b.takes.values() if prompt is None or t.prompt_id == prompt]
        chosen = set(b.chosen.values())
        nothing = "" if rows else _nothing_matched(b, prompt)
    if as_json:
        _echo_json([dict(t.to_dict(), chosen=t.id in chosen) for t in rows])
    for t in rows if not as_json else []:
        mark = "*" if t.id in chosen else " "
        flag = " (unverified)" if t.unverified else ""
        typer.echo(f"{mark} {t.id:<24} {t.duration:5.1f} s  {t.status:<8} {t.qc_verdict:<5} {t.text[:60]}{flag}")
    if b.damage:
        _warn_damaged(b.damage, bank)
    if nothing:
        typer.echo(nothing, err=True)
        raise typer.Exit(1 if prompt is not None and prompt not in b.prompts else 0)


def _nothing_matched(b: "Bank", prompt: Optional[str]) -> str:
    """What to say when a takes listing is empty: no takes yet, a prompt without takes, or no such prompt."""
    if prompt is None:
        return f"No takes yet in {b.root}. Record some with: voicebank record {b.root}"
    if prompt in b.prompts:
        return f"Prompt {prompt} has no takes yet ({b.prompts[prompt].text[:60]!r})."
    ids = sorted(b.prompts)
    listed = ", ".join(ids[:8]) + (f", ... ({len(ids)} in all)" if len(ids) > 8 else "")
    return f"Nothing matched: there is no prompt {prompt!r} in {b.root}. Its prompts: {listed or 'none yet'}."


def _open_to_read(bank: Path) -> "Bank":
    """Open a bank for a read-only command: it works on read-only media and on a damaged bank."""
    from voicebank.bank.store import Bank

    return Bank.open(bank, writable=False, tolerate_damage=True)


def _warn_damaged(damage: List[str], bank: Path) -> None:
    from voicebank.bank.lenient import describe

    typer.secho(f"warning: {describe(damage, Path(bank))}", fg=typer.colors.YELLOW, err=True)


@app.command("salvage")
def salvage(
    broken: Path = typer.Argument(..., help="The damaged bank (only read, never changed).", show_default=False),
    new: Path = typer.Argument(..., help="A new folder for the rebuilt bank.", show_default=False),
    as_json: bool = JsonOpt,
) -> None:
    """Rebuild a bank from every intact take of a damaged one; exit 1 if some takes could not be saved.

    Takes whose audio matches the checksum the bank recorded keep their prompt, text, verdict and choice; take files whose records are lost are kept when their audio decodes completely, marked unverified. Each take that cannot be saved is listed with its path and why.
    """
    from voicebank.bank.salvage import salvage_bank

    rep = salvage_bank(broken, new)
    if as_json:
        _echo_json(rep.to_dict())
        raise typer.Exit(1 if rep.damaged else 0)
    for line in rep.records_damage:
        typer.echo(f"records damaged: {line}")
    for d in rep.damaged:
        typer.echo(f"not saved: {d.path}: {d.reason}")
    for d in rep.doubtful:
        typer.echo(f"unverified: {d.path}: {d.reason}")
    typer.echo(
        f"Salvaged {len(rep.kept) + len(rep.unverified)} takes of {rep.prompts} prompts into {rep.target}: "
        f"{len(rep.kept)} verified against their checksums"
        + (f", {len(rep.unverified)} unverified (their records were lost; listen to them once)" if rep.unverified else "")
        + f"; {len(rep.damaged)} could not be saved. {rep.source} was not changed."
    )
    if rep.unfinished:
        typer.echo(
            f"Copied {len(rep.unfinished)} files of unfinished recordings: the next 'voicebank record {new}' saves them."
        )
    if rep.rechosen:
        typer.echo(
            f"The choice of take was lost for {len(rep.rechosen)} prompts: their latest accepted (or intact, "
            f"unverified) take is chosen. Listen, and change a choice with: voicebank bank choose {new} TAKE"
        )
    raise typer.Exit(1 if rep.damaged else 0)


@app.command("choose")
def choose(bank: Path = BankArg, take: str = typer.Argument(..., help="Take id to use for its prompt.")) -> None:
    """Mark one take as the one to use for its prompt (other takes are kept)."""
    from voicebank.bank.store import Bank

    with Bank.open(bank) as b:
        b.choose(take)
        typer.echo(f"{take} is now the chosen take of {b.takes[take].prompt_id}.")


@message_app.command("add")
def message_add(bank: Path = BankArg, text: str = typer.Argument(..., help="The phrase, as you will say it.")) -> None:
    """Add a phrase of your own to record for message banking."""
    from voicebank.bank.store import Bank

    with Bank.open(bank) as b:
        p = b.add_prompt(text, kind="message")
    typer.echo(f"Added message {p.id}: {p.text}")


@message_app.command("list")
def message_list(bank: Path = BankArg) -> None:
    """List your banked messages and whether each is recorded."""
    with _open_to_read(bank) as b:
        messages = [p for p in b.prompts.values() if p.kind == "message"]
        for p in messages:
            done = "recorded" if b.chosen.get(p.id) else "not yet"
            typer.echo(f"{p.id:<8} {done:<9} {p.text}")
    if b.damage:
        _warn_damaged(b.damage, bank)
    if not messages:
        typer.echo(f'No messages yet. Add one with: voicebank bank message add {bank} "the phrase"', err=True)


@app.command("transcribe")
def transcribe(
    bank: Path = BankArg,
    take: Optional[str] = typer.Argument(
        None, help="Take id (or a prompt id: its chosen take). With --draft and no take: every untranscribed take."
    ),
    words: Optional[str] = typer.Argument(None, help="The words said in the take, as you would write them."),
    draft: bool = typer.Option(
        False, "--draft", help="Draft the words offline with speech recognition (pocketsphinx), for you to confirm or correct."
    ),
    yes: bool = typer.Option(False, "--yes", "-y", help="With --draft: accept each draft without asking."),
) -> None:
    """Give a take the words that are said in it, so it can train a voice (imports of voicemails, old videos)."""
    from voicebank.bank.store import Bank

    if words is not None and draft:
        raise UsageError("Give the words or --draft, not both.")
    if words is None and not draft:
        raise UsageError(f'Give the words ( voicebank bank transcribe {bank} TAKE "the words" ) or --draft to draft them.')
    with Bank.open(bank) as b:
        if words is not None:
            t = b.transcribe(_take_of(b, take), words)
            typer.echo(f"{t.id}: {t.text}")
            return
        ids = [_take_of(b, take)] if take else [t.id for t in b.takes.values() if not t.text.strip()]
        if not ids:
            typer.echo(f"Every take in {b.root} has its words already; give a take id to draft one again.")
            return
        _draft_words(b, ids, yes)


def _take_of(b: "Bank", ref: Optional[str]) -> str:
    """A take id from a take id, or a prompt id (its chosen take, or its only take)."""
    if ref is None:
        raise UsageError("Say which take: voicebank bank transcribe BANK TAKE ... (see: voicebank bank takes BANK).")
    if ref in b.takes:
        return ref
    takes = b.takes_for(ref)
    if ref in b.chosen or len(takes) == 1:
        return b.chosen.get(ref) or takes[0].id
    if takes:
        raise UsageError(f"Prompt {ref} has {len(takes)} takes and none chosen; give the take id ({', '.join(t.id for t in takes)}).")
    raise UsageError(f"There is no take or prompt {ref!r} in {b.root} (see: voicebank bank takes {b.root}).")


def _draft_words(b: "Bank", ids: List[str], yes: bool) -> None:
    """Draft each take's words with pocketsphinx; the person accepts, edits or skips each draft."""
    from voicebank.train.metrics import Recognizer

    recognizer = Recognizer()
    done = 0
    for n, tid in enumerate(ids, 1):
        samples, rate = b.read_take(b.takes[tid])
        guess = recognizer.transcribe(samples, rate)
        typer.echo(f"[{n}/{len(ids)}] {tid} ({b.takes[tid].duration:.1f} s)")
        typer.echo(f"  draft: {guess or '(nothing recognised)'}")
        if yes:
            answer = "y" if guess else "s"
        else:
            answer = typer.prompt("  [y] keep it / [e] edit / [s] skip", default="y" if guess else "e").strip().lower()[:1]
        if answer == "e":
            guess = typer.prompt("  words", default=guess or None, show_default=False)
        elif answer != "y":
            typer.echo("  skipped")
            continue
        if guess.strip():
            b.transcribe(tid, guess)
            done += 1
    typer.echo(f"Gave {done} of {len(ids)} takes their words in {b.root}.")
