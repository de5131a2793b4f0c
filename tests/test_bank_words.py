"""The README's bank paths as a person types them: add-take on a fresh bank, giving imports their words, empty listings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import soundfile as sf

from voicebank.bank.prompts import load_script
from voicebank.bank.store import Bank

VOICEBANK = [sys.executable, "-m", "voicebank.cli.main"]


def run(*args: str | Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(VOICEBANK + [str(a) for a in args], input=stdin, capture_output=True, text=True, timeout=600)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    return proc


def test_add_take_on_any_prompt_of_the_script(tmp_path: Path, ljspeech: Path) -> None:
    bank = tmp_path / "bank"
    assert run("bank", "new", bank).returncode == 0
    proc = run("bank", "add-take", bank, "s0012", ljspeech / "wavs" / "LJ001-0002.wav")  # the README's example
    assert proc.returncode == 0 and "s0012.t01" in proc.stdout, proc.stderr
    with Bank.open(bank, writable=False) as b:
        assert b.prompts["s0012"].text == next(p.text for p in load_script("en-core") if p.id == "s0012")
    nope = run("bank", "add-take", bank, "s9999", ljspeech / "wavs" / "LJ001-0002.wav")
    assert nope.returncode == 2 and "no prompt 's9999'" in nope.stderr and "voicebank prompts list" in nope.stderr


def test_takes_says_when_nothing_matched(tmp_path: Path, ljspeech: Path) -> None:
    bank = tmp_path / "bank"
    run("bank", "new", bank)
    empty = run("bank", "takes", bank)
    assert empty.returncode == 0 and "No takes yet" in empty.stderr
    assert "No messages yet" in run("bank", "message", "list", bank).stderr
    run("bank", "add-take", bank, "s0001", ljspeech / "wavs" / "LJ001-0001.wav")
    nope = run("bank", "takes", bank, "nope")
    assert nope.returncode == 1 and "Nothing matched" in nope.stderr and "s0001" in nope.stderr


def _untranscribed(tmp_path: Path, ljspeech: Path) -> Path:
    bank = tmp_path / "bank"
    with Bank.create(bank, script="imported") as b:
        for clip in ("LJ001-0002", "LJ001-0008"):
            p = b.add_prompt("", kind="imported", prompt_id=f"voicemail-{clip}")
            data, rate = sf.read(ljspeech / "wavs" / f"{clip}.wav", dtype="float32")
            b.choose(b.save_take(p.id, data, rate).id)
    return bank


def test_transcribe_typed_words(tmp_path: Path, ljspeech: Path) -> None:
    bank = _untranscribed(tmp_path, ljspeech)
    proc = run("bank", "transcribe", bank, "voicemail-LJ001-0002", "in being  comparatively modern.")
    assert proc.returncode == 0, proc.stderr
    with Bank.open(bank, writable=False) as b:
        assert b.takes["voicemail-LJ001-0002.t01"].text == "in being comparatively modern."
        assert b.prompts["voicemail-LJ001-0002"].text == "in being comparatively modern."
    with Bank.open(bank) as b:  # the change survives a reopen and a compaction
        b.compact()
    with Bank.open(bank, writable=False) as b:
        assert b.takes["voicemail-LJ001-0002.t01"].text == "in being comparatively modern."
    assert run("bank", "transcribe", bank, "voicemail-LJ001-0002").returncode == 2  # neither words nor --draft


def test_transcribe_draft_is_confirmed_or_corrected(tmp_path: Path, ljspeech: Path) -> None:
    bank = _untranscribed(tmp_path, ljspeech)
    # the first draft is corrected by hand, the second kept as drafted
    proc = run("bank", "transcribe", bank, "--draft", stdin="e\nin being comparatively modern\ny\n")
    assert proc.returncode == 0 and "draft:" in proc.stdout and "Gave 2 of 2" in proc.stdout, proc.stdout + proc.stderr
    with Bank.open(bank, writable=False) as b:
        assert b.takes["voicemail-LJ001-0002.t01"].text == "in being comparatively modern"
        drafted = b.takes["voicemail-LJ001-0008.t01"].text.split()
    said = "has never been surpassed".split()  # LJ001-0008: "has never been surpassed."
    assert sum(w in drafted for w in said) >= 2, drafted
    again = run("bank", "transcribe", bank, "--draft", "--yes")
    assert again.returncode == 0 and "has its words already" in again.stdout
