"""Saved phrases keep their own copy of a recorded message: it plays after the bank moves,
and when the copy is gone too the phrase speaks its text with a notice that names real commands."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicebank.bank.store import Bank
from voicebank.phrases import AUDIO_DIR, Phrase, PhraseBook, recorded_message

VOICEBANK = [sys.executable, "-m", "voicebank.cli.main"]
RATE = 22050


def _bank_with_message(root: Path) -> tuple[str, np.ndarray]:
    """A bank holding one recorded message (a real take saved through the bank): its id and samples."""
    t = np.arange(int(1.0 * RATE)) / RATE
    tone = (0.3 * np.sin(2 * np.pi * 190 * t) * np.hanning(len(t))).astype(np.float32)
    with Bank.create(root) as bank:
        prompt = bank.add_prompt("Love you, kiddo.", kind="message")
        bank.save_take(prompt.id, tone, RATE, subtype="PCM_16", choose=True)
    return prompt.id, tone


def _played(path: Path) -> np.ndarray:
    data, rate = sf.read(path, dtype="float32")
    assert rate == RATE
    return data


def test_a_recorded_phrase_plays_its_own_copy_after_the_bank_moves(tmp_path: Path) -> None:
    pid, tone = _bank_with_message(tmp_path / "bank")
    book = PhraseBook(tmp_path / "home" / "phrases.json")
    n = book.add(recorded_message(str(tmp_path / "bank"), pid))
    copy = tmp_path / "home" / AUDIO_DIR / book.get(n).audio
    with Bank.open(tmp_path / "bank", writable=False) as bank:
        take = bank.chosen_take(pid)
        assert take is not None and book.get(n).audio == f"{take.sha256}.flac"  # named by the take's checksum
    shutil.move(tmp_path / "bank", tmp_path / "moved-bank")

    found = PhraseBook(tmp_path / "home" / "phrases.json").resolve(n)
    assert found.recording == copy and found.notice == ""
    assert np.abs(_played(copy) - tone).max() < 1e-3  # the recording itself, verbatim (16-bit)
    samples = np.concatenate([c.as_float32() for c in found.chunks(engine=None)])
    assert np.abs(samples - tone).max() < 1e-3


def test_a_damaged_or_missing_copy_falls_back_to_the_text_with_a_notice(tmp_path: Path) -> None:
    pid, _ = _bank_with_message(tmp_path / "bank")
    book = PhraseBook(tmp_path / "home" / "phrases.json")
    n = book.add(recorded_message(str(tmp_path / "bank"), pid))
    copy = tmp_path / "home" / AUDIO_DIR / book.get(n).audio
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF  # a bit flip: the copy no longer matches its checksum
    copy.write_bytes(bytes(data))
    with Bank.open(tmp_path / "bank", writable=False) as bank:
        take_file = bank.take_path(bank.chosen_take(pid))  # type: ignore[arg-type]
    assert book.resolve(n).recording == take_file, "the bank, still there, stands in for a damaged copy"
    shutil.rmtree(tmp_path / "bank")
    found = book.resolve(n)
    assert found.recording is None
    assert "missing" in found.notice and "Love you, kiddo." in found.notice
    assert f"voicebank phrases add --bank BANK --message {pid}" in found.notice
    assert "bank new" not in found.notice


def test_old_phrase_books_get_their_copies_where_the_bank_still_is(tmp_path: Path) -> None:
    pid, tone = _bank_with_message(tmp_path / "bank")
    path = tmp_path / "home" / "phrases.json"
    path.parent.mkdir(parents=True)
    old = {"schema_version": 1, "phrases": [
        {"text": "Hello.", "bank": "", "prompt_id": ""},
        {"text": "Love you, kiddo.", "bank": str(tmp_path / "bank"), "prompt_id": pid},
        {"text": "Gone.", "bank": str(tmp_path / "no-such-bank"), "prompt_id": "m0009"},
    ]}
    path.write_text(json.dumps(old))
    book = PhraseBook(path)
    assert book.migrated == 1
    saved = json.loads(path.read_text())
    assert saved["schema_version"] == 2
    assert saved["phrases"][1]["audio"] and not saved["phrases"][2]["audio"]
    shutil.rmtree(tmp_path / "bank")
    assert np.abs(_played(book.resolve(2).recording) - tone).max() < 1e-3  # type: ignore[arg-type]
    assert book.resolve(3).recording is None and "m0009" in book.resolve(3).notice
    assert PhraseBook(path).migrated == 0  # nothing left to copy


def test_removing_a_phrase_removes_a_copy_nobody_plays(tmp_path: Path) -> None:
    pid, _ = _bank_with_message(tmp_path / "bank")
    book = PhraseBook(tmp_path / "home" / "phrases.json")
    book.add(recorded_message(str(tmp_path / "bank"), pid))
    book.add(recorded_message(str(tmp_path / "bank"), pid))  # the same recording twice: one copy
    copies = list((tmp_path / "home" / AUDIO_DIR).iterdir())
    assert len(copies) == 1
    book.remove(1)
    assert copies[0].exists()
    book.remove(1)
    assert not copies[0].exists()
    book.add(Phrase("Just text."))
    assert book.resolve(1).recording is None and book.resolve(1).notice == ""


@pytest.mark.slow
def test_speak_phrase_falls_back_to_the_text_and_the_advice_works(tmp_path: Path) -> None:
    pid, _ = _bank_with_message(tmp_path / "bank")
    env = dict(os.environ, VOICEBANK_HOME=str(tmp_path / "home"))
    added = subprocess.run(VOICEBANK + ["phrases", "add", "--bank", str(tmp_path / "bank"), "--message", pid],
                           env=env, capture_output=True, text=True, timeout=120)
    assert added.returncode == 0, added.stderr
    shutil.rmtree(tmp_path / "bank")
    shutil.rmtree(tmp_path / "home" / AUDIO_DIR)
    out = tmp_path / "said.wav"
    proc = subprocess.run(VOICEBANK + ["speak", "--phrase", "1", "--out", str(out)], env=env, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "recording of \"Love you, kiddo.\" is missing" in proc.stderr
    assert sf.info(out).duration > 0.5  # the words, spoken by the voice
    advice = re.search(r"voicebank (phrases add [^\n]*)", proc.stderr)
    assert advice, proc.stderr
    words = shlex.split(advice.group(1))
    helped = subprocess.run(VOICEBANK + words[:2] + ["--help"], env=env, capture_output=True, text=True, timeout=120)
    assert helped.returncode == 0, helped.stderr
    assert all(w in helped.stdout for w in words if w.startswith("--")), words  # every option it names exists
