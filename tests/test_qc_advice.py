"""The advice a recorder shows for a bad take, on real speech damaged the way takes go wrong.

Takes go through a real bank and :class:`RecordingSession` (the bank's QC against the
speaker's own baseline, as both recorders run it); the advice must name the right fix.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicebank.bank import qc
from voicebank.bank.qc import Check, QCReport
from voicebank.bank.qc_advice import DEFAULT_ADVICE, PRIORITY, advice, primary, problems
from voicebank.bank.store import Bank
from voicebank.record.session import RecordingSession, SessionPrompt

DATA = Path(__file__).parents[1].parent / "shared/data/ljspeech-sample"
BASELINE_TAKES = 6  # more than QCThresholds.baseline_min_takes, so the pace is compared
DAMAGED_CLIPS = 3


@pytest.fixture(scope="module")
def clips() -> list[tuple[str, np.ndarray, int, str]]:
    meta = DATA / "metadata.csv"
    if not meta.is_file():
        pytest.skip(f"the LJSpeech sample is not at {DATA} (it lives in ../shared/data)")
    out = []
    with open(meta, encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="|", quoting=csv.QUOTE_NONE):
            x, sr = sf.read(str(DATA / "wavs" / f"{row[0]}.wav"), dtype="float32")
            out.append((row[0], x, int(sr), row[2]))
    return out


@pytest.fixture(scope="module")
def session(clips, tmp_path_factory):
    """A session whose speaker has accepted a few clean takes (their baseline)."""
    prompts = [SessionPrompt(f"lj{i:02d}", text) for i, (_, _, _, text) in enumerate(clips)]
    # The person read only the first of two sentences: words missing against the prompt.
    prompts.append(SessionPrompt("half", f"{clips[-1][3]} {clips[-2][3]}"))
    path = tmp_path_factory.mktemp("advice") / "bank"
    Bank.create(path, speaker="advice test").close()
    with Bank.open(path) as bank:
        s = RecordingSession(bank, prompts, script=None)
        for i in range(BASELINE_TAKES):
            _, x, sr, _ = clips[i]
            saved = s.save_capture(x, sr, prompt_id=f"lj{i:02d}")
            assert saved.verdict == "pass", saved.problems
            s.accept()
        yield s


def _loudest_10ms(x: np.ndarray, sr: int, lo: float, hi: float) -> int:
    """A sample in the loudest 10 ms between fractions lo and hi of the clip: inside a vowel."""
    n = int(0.01 * sr)
    k = len(x) // n
    e = np.mean(x[: k * n].reshape(k, n) ** 2, axis=1)
    a, b = int(lo * k), int(hi * k)
    return (a + int(np.argmax(e[a:b]))) * n + n // 2


def _damaged(kind: str, x: np.ndarray, sr: int, seed: int) -> np.ndarray:
    if kind == "clipped":  # 12 dB too much gain: the converter clips
        return np.clip(x * 4.0, -1.0, 1.0)
    if kind == "quiet":  # 20 dB too quiet
        return x * 0.1
    if kind == "cut_end":  # stopped in the middle of a word
        return x[: _loudest_10ms(x, sr, 0.4, 0.7)]
    if kind == "cut_start":  # started speaking before the recording did
        return x[_loudest_10ms(x, sr, 0.3, 0.6) :]
    if kind == "noisy":  # a fan or traffic: white noise 5 dB below the speech
        noise = np.random.default_rng(seed).standard_normal(len(x)) * np.sqrt(np.mean(x**2) / 10**0.5)
        y = x + noise.astype(np.float32)
        return y / max(1.0, float(np.abs(y).max()) / 0.99)  # kept unclipped: only the noise is wrong
    raise AssertionError(kind)


EXPECTED = {
    "clipped": ("clipping", "Clipped: speak a little softer"),
    "quiet": ("level", "Too quiet: move closer"),
    "cut_end": ("truncated_end", "Cut off at the end: wait a moment after your last word before stopping"),
    "cut_start": ("truncated_start", "Cut off at the start: wait a moment after the count-in"),
    "noisy": ("noise", "Noisy background: find a quieter room"),
}


@pytest.mark.parametrize("kind", sorted(EXPECTED))
def test_each_damaged_take_gets_its_one_fix(kind, session, clips) -> None:
    check_name, words = EXPECTED[kind]
    for n in range(DAMAGED_CLIPS):
        i = BASELINE_TAKES + n
        _, x, sr, _ = clips[i]
        saved = session.save_capture(_damaged(kind, x, sr, seed=n), sr, prompt_id=f"lj{i:02d}")
        assert saved.report is not None and saved.report.verdict == "fail"
        top = primary(saved.report)
        assert top is not None and top.name == check_name, (kind, [c.to_dict() for c in saved.problems])
        assert advice(top).startswith(words), advice(top)
        rows = problems(saved.report)
        assert rows[0]["check"] == check_name and rows[0]["advice"] == advice(top)
        assert {r["check"] for r in rows} == {c.name for c in saved.problems}
        assert all(r["advice"] for r in rows)
        assert advice(check_name, saved.report) == advice(top)  # by name, as the recorder API may ask
        session.redo()


def test_a_clean_take_has_nothing_to_fix(session, clips) -> None:
    i = BASELINE_TAKES + DAMAGED_CLIPS
    saved = session.save_capture(clips[i][1], clips[i][2], prompt_id=f"lj{i:02d}")
    assert saved.report is not None and saved.report.verdict == "pass"
    assert primary(saved.report) is None and problems(saved.report) == []
    assert all(advice(c) == "" for c in saved.report.checks)


def test_words_left_out_ask_for_the_whole_sentence(session, clips) -> None:
    _, x, sr, _ = clips[-1]
    saved = session.save_capture(x, sr, prompt_id="half")
    top = primary(saved.report)
    assert top is not None and top.name == "speaking_rate" and top.verdict == "fail", saved.problems
    assert "read the whole sentence" in advice(top)


def test_slow_reading_suggests_a_break(session, clips) -> None:
    _, x, sr, _ = clips[BASELINE_TAKES]
    # The same speech at half speed (an octave lower, but the pace is what is judged).
    slow = np.interp(np.arange(0, len(x), 0.5), np.arange(len(x)), x).astype(np.float32)
    saved = session.save_capture(slow, sr, prompt_id=f"lj{BASELINE_TAKES:02d}")
    top = primary(saved.report)
    assert top is not None and top.name == "speaking_rate", saved.problems
    assert advice(top).startswith("Much slower") and "take a break" in advice(top)


def _qc_check_names() -> set[str]:
    """Every check name qc.py can report, read from its source (so a new check cannot go unadvised)."""
    src = Path(qc.__file__).read_text(encoding="utf-8")
    names = set(re.findall(r'Check\(\s*"(\w+)"', src))
    names |= set(re.findall(r'\("(\w+)", (?:lead|trail), ', src))  # the start/end pairs built in loops
    return names


def test_every_qc_check_has_its_own_advice() -> None:
    names = _qc_check_names()
    assert {"clipping", "level", "truncated_end", "silence_start", "speaking_rate", "bit_depth"} <= names
    assert names == set(PRIORITY)
    for name in names:
        for verdict in ("warn", "fail"):
            for value in (-30.0, 0.5, 2.0, None):
                text = advice(Check(name, verdict, value, "qc's sentence."))
                assert text and text != DEFAULT_ADVICE and text.endswith(".")
                assert text[0].isupper() and ":" in text and len(text) < 120, text


def test_direction_and_default() -> None:
    th = qc.QCThresholds()
    assert advice(Check("level", "warn", th.loud_warn_dbfs + 3, "")).startswith("Very loud: move back")
    assert advice(Check("level", "warn", th.level_warn_dbfs - 2, "")).startswith("A bit quiet")
    assert advice(Check("speaking_rate", "warn", 1.5, "")).startswith("A bit faster")
    assert advice(Check("channels", "fail", -20.0, "")).startswith("The two channels cancel")
    assert advice(Check("channels", "fail", 1.0, "")).startswith("A channel is silent")
    assert advice(Check("new_check", "fail", None, "")) == DEFAULT_ADVICE
    assert advice(Check("clipping", "pass", 0.0, "")) == ""
    assert advice("level", QCReport([])) == "" and advice("level") == ""


def test_primary_prefers_fails_then_the_fix_that_helps_most() -> None:
    def report(*checks: tuple[str, str]) -> QCReport:
        return QCReport([Check(n, v, -40.0, "") for n, v in checks])

    assert primary(report(("level", "pass"))) is None
    assert primary(report(("silence_end", "warn"), ("noise", "fail"))).name == "noise"
    assert primary(report(("noise", "fail"), ("level", "fail"))).name == "level"  # closer helps both
    assert primary(report(("speaking_rate", "fail"), ("truncated_end", "fail"))).name == "truncated_end"
    assert primary(report(("level", "warn"), ("clipping", "fail"))).name == "clipping"
    assert primary(report(("clipping", "fail"), ("speech", "fail"))).name == "speech"
    assert primary(report(("mystery", "fail"), ("duration", "warn"))).name == "mystery"
