"""Consent takes on real audio: the bank's speaker passes; another person, a missing code phrase and the stock voice fail.

Nobody has recorded our statement, so the statements here are real recordings' own words:
a held-out LJSpeech clip's transcript with code words chosen from it (the bank's speaker,
a woman), a pocketsphinx-testdata clip (a man) with its own transcript, another LJSpeech
sentence, and the stock voice reading the first statement.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicebank.bank.importer import Importer
from voicebank.bank.store import Bank
from voicebank.provenance.consent import (
    CODE_WORDS,
    ConsentError,
    Statement,
    attempts,
    consent_status,
    new_statement,
    recheck,
    save_take,
    save_written,
)
from voicebank.provenance.consent_check import MIN_BANK_TAKES, in_dictionary

LIBRIVOX = Path("/usr/share/pocketsphinx/test/data/librivox")
HELD_OUT = "LJ001-0016"  # the bank's speaker reads "the statement"
OTHER_SENTENCE = "LJ001-0020"
BANK_CLIPS = ("LJ001-0001", "LJ001-0003", "LJ001-0005", "LJ001-0007", "LJ001-0009", "LJ001-0014")
STATEMENT = Statement(
    text="The Middle Ages brought calligraphy to perfection, and it was natural therefore",
    code_words=("calligraphy", "perfection", "natural"),
    speaker="Linda Johnson",
    date="2026-12-05",
)


def _lj_folder(tmp: Path, source: Path, ids: tuple[str, ...]) -> Path:
    """An LJSpeech-layout folder holding only ``ids`` (links to the real clips)."""
    folder = tmp / "lj"
    (folder / "wavs").mkdir(parents=True)
    rows = [r for r in (source / "metadata.csv").read_text(encoding="utf-8").splitlines() if r.split("|")[0] in ids]
    (folder / "metadata.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    for clip in ids:
        (folder / "wavs" / f"{clip}.wav").symlink_to(source / "wavs" / f"{clip}.wav")
    return folder


def _bank(tmp: Path, source: Path, ids: tuple[str, ...]) -> Path:
    root = tmp / "bank"
    with Bank.create(root, speaker="Linda Johnson") as bank:
        events = list(Importer(bank).import_ljspeech(_lj_folder(tmp, source, ids)))
    assert [e.kind for e in events] == ["take"] * len(ids)
    return root


def _clip(path: Path) -> tuple[np.ndarray, int]:
    x, rate = sf.read(str(path), dtype="float32")
    return x, int(rate)


def _records_digest(root: Path) -> dict[str, str]:
    """The bank's own files (everything but the consent folder and the lock)."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != ".lock" and "consent" not in p.relative_to(root).parts
    }


@pytest.fixture(scope="module")
def lj_bank(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A bank of six real LJSpeech takes, and the sample's folder."""
    from tests.conftest import LJSPEECH

    if not (LJSPEECH / "metadata.csv").is_file():
        pytest.skip(f"real recordings not available: {LJSPEECH} is absent")
    return _bank(tmp_path_factory.mktemp("consent"), LJSPEECH, BANK_CLIPS), LJSPEECH


def test_the_banks_speaker_reading_the_statement_passes_and_the_bank_is_untouched(lj_bank: tuple[Path, Path]) -> None:
    root, lj = lj_bank
    before = _records_digest(root)
    x, rate = _clip(lj / "wavs" / f"{HELD_OUT}.wav")
    status = save_take(root, x, rate, STATEMENT)
    assert status.ok and status.how == "recorded", status.detail
    checks = status.record["checks"]
    assert checks["code_words"]["status"] == "pass" and not checks["code_words"]["missing"]
    assert checks["speaker"]["status"] == "pass" and checks["speaker"]["bank_takes"] == len(BANK_CLIPS)
    assert checks["watermark"]["status"] in ("pass", "not available")  # a real recording carries no mark
    assert consent_status(root).ok
    assert (root / "consent" / ".speaker-embeddings.json").is_file()  # the bank's takes are embedded once
    assert _records_digest(root) == before  # prompts, takes, manifest and journal untouched
    stored = root / "consent" / status.record["audio"]["file"]
    back, back_rate = sf.read(str(stored), dtype="float32")
    assert back_rate == rate and np.max(np.abs(back - x)) < 1e-4  # the take itself is kept, losslessly
    with Bank.open(root, writable=False) as bank:
        assert bank.verify().ok


def test_another_real_speaker_reading_their_words_fails_on_the_voice(lj_bank: tuple[Path, Path]) -> None:
    root, _ = lj_bank
    clip = LIBRIVOX / "sense_and_sensibility_01_austen_64kb-0920.wav"
    if not clip.is_file():
        pytest.skip(f"Debian pocketsphinx-testdata is not installed ({clip} is absent)")
    statement = Statement(
        text="had he married a more amiable woman he might have been made still more respectable than he was",
        code_words=("married", "amiable", "respectable"), speaker="Linda Johnson", date="2026-12-05",
    )
    status = save_take(root, *_clip(clip), statement)
    checks = status.record["checks"]
    assert checks["code_words"]["status"] == "pass"  # he said the words ...
    assert checks["speaker"]["status"] == "fail" and checks["speaker"]["similarity"] < 0.7  # ... in another voice
    assert not status.ok and "does not match" in status.detail
    assert not consent_status(root).ok  # the latest attempt decides


def test_a_take_without_the_code_phrase_fails(lj_bank: tuple[Path, Path]) -> None:
    root, lj = lj_bank
    status = save_take(root, *_clip(lj / "wavs" / f"{OTHER_SENTENCE}.wav"), STATEMENT)
    checks = status.record["checks"]
    assert checks["code_words"]["status"] == "fail" and len(checks["code_words"]["missing"]) >= 2
    assert checks["speaker"]["status"] == "pass"  # the right person, but not reading the statement
    assert not status.ok and "not heard" in status.detail


def test_the_stock_voice_reading_the_statement_fails(lj_bank: tuple[Path, Path], engine) -> None:  # type: ignore[no-untyped-def]
    root, _ = lj_bank
    before = len(attempts(root))
    chunk = engine.synthesize(STATEMENT.text)
    status = save_take(root, chunk.as_float32(), chunk.sample_rate, STATEMENT)
    checks = status.record["checks"]
    assert checks["speaker"]["status"] == "fail" or checks["watermark"]["status"] == "fail"
    assert not status.ok
    assert len(attempts(root)) == before + 1  # every attempt is kept


def test_the_speakers_own_take_carrying_our_watermark_fails(lj_bank: tuple[Path, Path]) -> None:
    """Check 3 alone: the right voice and the right words, but marked as made by voicebank."""
    from voicebank.errors import MissingDependencyError
    from voicebank.provenance import watermark

    root, lj = lj_bank
    x, rate = _clip(lj / "wavs" / f"{HELD_OUT}.wav")
    try:
        marked = watermark.mark(x, rate)
    except (NotImplementedError, MissingDependencyError) as exc:
        pytest.skip(f"the watermark is not available here: {exc}")
    status = save_take(root, marked, rate, STATEMENT)
    checks = status.record["checks"]
    assert checks["code_words"]["status"] == "pass" and checks["speaker"]["status"] == "pass"
    assert checks["watermark"]["status"] == "fail" and not status.ok
    assert "synthetic" in status.detail


def test_too_few_takes_waits_then_passes_once_the_bank_has_enough(tmp_path: Path, ljspeech: Path) -> None:
    root = _bank(tmp_path, ljspeech, BANK_CLIPS[:2])
    status = save_take(root, *_clip(ljspeech / "wavs" / f"{HELD_OUT}.wav"), STATEMENT, operator="Sam (partner)")
    assert not status.ok and status.record["verdict"] == "incomplete"
    assert f"record at least {MIN_BANK_TAKES} takes first" in status.detail
    assert status.how == "recorded-by-proxy" and status.record["operator"] == "Sam (partner)"
    with Bank.open(root) as bank:
        folder = _lj_folder(tmp_path / "more", ljspeech, BANK_CLIPS[2:])
        list(Importer(bank).import_ljspeech(folder))
    again = recheck(root)
    assert again.ok and again.how == "recorded-by-proxy", again.detail
    assert again.record["rechecks"] == status.record["id"]


def test_statement_names_the_speaker_the_date_and_a_random_code_phrase() -> None:
    st = new_statement("Ada Lovelace", date="2026-12-05", seed=3)
    assert "Ada Lovelace" in st.text and "5 December 2026" in st.text and st.date == "2026-12-05"
    assert len(st.code_words) == 3 and set(st.code_words) <= set(CODE_WORDS)
    assert st.text.endswith(" ".join(st.code_words) + ".")
    assert new_statement("Ada Lovelace", date="2026-12-05", seed=3) == st
    assert len({new_statement("Ada").code_words for _ in range(5)}) > 1
    assert all(in_dictionary(w) for w in CODE_WORDS)
    with pytest.raises(ConsentError, match="name"):
        new_statement("  ")
    with pytest.raises(ConsentError, match="YYYY-MM-DD"):
        new_statement("Ada", date="5/12/2026")


VOICEBANK = [sys.executable, "-m", "voicebank.cli.main"]


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(VOICEBANK + [str(a) for a in args], capture_output=True, text=True, timeout=600)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return proc


@pytest.mark.slow
def test_cli_status_record_from_file_and_written_consent(tmp_path: Path, ljspeech: Path) -> None:
    root = _bank(tmp_path, ljspeech, BANK_CLIPS[:1])
    none = _run("consent", "status", root)
    assert none.returncode == 1 and "No consent is on file" in none.stdout
    wav = ljspeech / "wavs" / f"{HELD_OUT}.wav"
    unissued = _run("consent", "record", root, "--from-file", wav)
    assert unissued.returncode == 2 and "consent statement" in unissued.stderr  # a file needs an issued statement
    issued = _run("consent", "statement", root)
    assert issued.returncode == 0 and "Linda Johnson" in issued.stdout  # the bank's speaker name is read into it
    # a real recording that does not read the issued statement: kept, and refused
    rec = _run("consent", "record", root, "--from-file", wav, "--operator", "Dr Lee")
    assert rec.returncode == 1 and "NOT PASSED" in rec.stdout and "not heard" in rec.stdout, rec.stdout
    [take] = attempts(root)
    assert take["how"] == "recorded-by-proxy" and take["operator"] == "Dr Lee"
    assert take["statement"] in issued.stdout.replace("\n", " ")
    written = _run("consent", "written", root, "--reason", "can no longer speak", "--attested-by", "Dr Lee, neurologist")
    assert written.returncode == 0, written.stderr
    ok = _run("consent", "status", root)
    assert ok.returncode == 0 and "Dr Lee, neurologist" in ok.stdout
    assert consent_status(root).how == "written"
    refused = _run("consent", "written", root, "--reason", " ", "--attested-by", "x")
    assert refused.returncode == 2 and "--reason" in refused.stderr


def test_written_consent_needs_reason_and_witness_and_a_bank(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="not a voice bank"):
        save_written(tmp_path, reason="r", attested_by="a")
    Bank.create(tmp_path / "b").close()
    with pytest.raises(ConsentError, match="attests"):
        save_written(tmp_path / "b", reason="cannot speak", attested_by="")
    assert consent_status(tmp_path / "b").how == "none"


def _read_until(proc: subprocess.Popen[bytes], marker: bytes, seen: bytearray, timeout: float = 120.0) -> None:
    """Read the program's output until ``marker`` appears (it waits for a key there)."""
    import os
    import select
    import time

    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while marker not in seen:
        ready, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        chunk = os.read(proc.stdout.fileno(), 4096) if ready else b""
        assert chunk, f"no {marker!r} from the recorder; it said: {seen.decode(errors='replace')}"
        seen += chunk


@pytest.mark.slow
def test_cli_records_the_statement_from_the_microphone(pulse_server, ljspeech: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The terminal path end to end: statement shown, Enter starts, a real clip is heard through the sound system, Enter stops."""
    root = _bank(tmp_path, ljspeech, BANK_CLIPS)
    proc = subprocess.Popen(VOICEBANK + ["consent", "record", str(root)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=pulse_server.env)
    assert proc.stdin is not None
    seen = bytearray()
    try:
        _read_until(proc, b"Press Enter", seen)
        proc.stdin.write(b"\n")
        proc.stdin.flush()
        _read_until(proc, b"Recording", seen)
        pulse_server.play(ljspeech / "wavs" / f"{HELD_OUT}.wav")
        proc.stdin.write(b"\n")
        proc.stdin.flush()
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = (bytes(seen) + out).decode()
    assert "Traceback" not in text + err.decode(), err.decode()
    assert proc.returncode == 1 and "NOT PASSED" in text  # a real voice, but not reading the statement
    [record] = attempts(root)
    assert record["statement"] in text and "Linda Johnson" in record["statement"]  # shown (in large letters too)
    assert record["checks"]["speaker"]["status"] == "pass"  # the bank's own voice came through the microphone
    assert record["audio"]["seconds"] >= sf.info(str(ljspeech / "wavs" / f"{HELD_OUT}.wav")).duration
    assert not any((root / "consent" / ".spool").glob("*.json"))  # the capture's spool is gone once saved


def test_bad_takes_and_statements_are_refused_and_leave_nothing(tmp_path: Path) -> None:
    from voicebank.errors import AudioFormatError

    Bank.create(tmp_path / "b").close()
    speech = np.zeros(16000 * 5, dtype=np.float32)
    with pytest.raises(ConsentError, match="dictionary"):
        save_take(tmp_path / "b", speech, 16000, Statement("say xqzzyv now", ("xqzzyv",), "A", "2026-12-05"))
    with pytest.raises(ConsentError, match="does not contain"):
        save_take(tmp_path / "b", speech, 16000, Statement("no code here", ("zebra",), "A", "2026-12-05"))
    with pytest.raises(AudioFormatError, match="too short"):
        save_take(tmp_path / "b", speech[:8000], 16000, new_statement("A", seed=1))
    with pytest.raises(AudioFormatError, match="no usable audio"):
        save_take(tmp_path / "b", np.full(48000, np.nan, dtype=np.float32), 16000, new_statement("A", seed=1))
    assert attempts(tmp_path / "b") == [] and not list((tmp_path / "b").rglob("*.flac"))
