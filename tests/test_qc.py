"""Quality checks on real read speech (the 32 LJSpeech clips) and on damaged copies of it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicebank.audio import resample
from voicebank.bank import qc, vad
from voicebank.errors import AudioFormatError, UsageError

DATA = Path(__file__).parents[1].parent / "shared/data/ljspeech-sample"


@pytest.fixture(scope="module")
def detector() -> vad.SpeechDetector:
    return vad.SpeechDetector()


@pytest.fixture(scope="module")
def clips() -> dict[str, tuple[np.ndarray, int, str]]:
    """id -> (samples, rate, normalized text) for every clip of the sample."""
    meta = DATA / "metadata.csv"
    if not meta.is_file():
        pytest.skip(f"the LJSpeech sample is not at {DATA} (it lives in ../shared/data)")
    out = {}
    with open(meta, encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="|", quoting=csv.QUOTE_NONE):
            x, sr = sf.read(str(DATA / "wavs" / f"{row[0]}.wav"), dtype="float32")
            out[row[0]] = (x, int(sr), row[2])
    assert len(out) == 32
    return out


@pytest.fixture(scope="module")
def clean_reports(clips, detector) -> dict[str, qc.QCReport]:
    return {k: qc.analyze(x, sr, text=t, detector=detector) for k, (x, sr, t) in clips.items()}


# ------------------------------------------------------------------ damage


def _level(x: np.ndarray, sr: int) -> np.ndarray:
    n = int(0.01 * sr)
    k = len(x) // n
    return 10 * np.log10(np.mean(x[: k * n].reshape(k, n) ** 2, axis=1) + 1e-12)


def _mid_word(x: np.ndarray, sr: int, lo: float, hi: float) -> int:
    """A sample inside the loudest 10 ms between fractions lo and hi of the clip: a vowel."""
    e = _level(x, sr)
    a, b = int(lo * len(e)), int(hi * len(e))
    return (a + int(np.argmax(e[a:b]))) * int(0.01 * sr) + int(0.005 * sr)


def _damaged(kind: str, x: np.ndarray, sr: int, seed: int) -> tuple[np.ndarray, int]:
    if kind == "clipping":  # 12 dB too much gain into a 16-bit converter
        return np.clip(x * 4.0, -1.0, 1.0), sr
    if kind == "level":  # 20 dB too quiet
        return x * 0.1, sr
    if kind == "noise":  # white noise at 5 dB SNR (mean power of the clip over that of the noise)
        noise = np.random.default_rng(seed).standard_normal(len(x)) * np.sqrt(np.mean(x**2) / 10**0.5)
        y = x + noise.astype(np.float32)
        return y / max(1.0, float(np.abs(y).max()) / 0.99), sr  # keep it unclipped
    if kind == "truncated_start":
        return x[_mid_word(x, sr, 0.3, 0.6) :], sr
    if kind == "truncated_end":
        return x[: _mid_word(x, sr, 0.4, 0.7)], sr
    if kind == "sample_rate":
        return resample(x, sr, 8000), 8000
    if kind == "channels":  # stereo, right channel dead
        return np.column_stack([x, np.zeros_like(x)]), sr
    if kind == "bandwidth":  # was 8 kHz once, now at the original rate again
        return resample(resample(x, sr, 8000), 8000, sr), sr
    raise AssertionError(kind)


DAMAGES = ["clipping", "level", "noise", "truncated_start", "truncated_end", "sample_rate", "channels", "bandwidth"]


def test_no_clean_clip_fails_or_warns(clean_reports) -> None:
    fails = {k: [c.name for c in r.problems() if c.verdict == "fail"] for k, r in clean_reports.items()}
    assert not any(fails.values()), fails
    # Stronger than asked: with these thresholds no clean clip even warns (see qc.py margins).
    warns = {k: [c.name for c in r.problems()] for k, r in clean_reports.items()}
    assert not any(warns.values()), warns


def test_clean_measures_are_plausible(clean_reports) -> None:
    for r in clean_reports.values():
        m = r.measures
        assert -24 < m["rms_dbfs"] < -17
        assert m["snr_db"] > 28
        assert m["clipped_samples"] == 0 and m["peak_dbfs"] < 0
        assert 0.6 * m["duration_s"] < m["speech_s"] <= m["duration_s"]
        assert 8 < m["speech_rate"] < 20  # letters per second
        assert m["sample_rate"] == 22050 and m["channels"] == 1


@pytest.mark.parametrize("kind", DAMAGES)
def test_each_damage_fails_for_the_right_reason(kind, clips, clean_reports, detector, tmp_path) -> None:
    for n, (cid, (x, sr, text)) in enumerate(clips.items()):
        y, rate = _damaged(kind, x, sr, seed=n)
        path = tmp_path / f"{cid}-{kind}.wav"
        sf.write(str(path), y, rate, subtype="PCM_16")
        rep = qc.check_file(path)
        check = rep.check(kind)
        assert check is not None and check.verdict == "fail", (cid, kind, [c.to_dict() for c in rep.problems()])
        assert check.message.endswith(".") and len(check.message) > 30
        original = clean_reports[cid].check(kind)
        assert original is not None and original.verdict != "fail"
        assert rep.verdict == "fail"


def test_messages_say_what_to_do(clips, detector) -> None:
    x, sr, _ = clips["LJ001-0002"]
    quiet = qc.analyze(x * 0.1, sr, detector=detector).check("level")
    assert quiet is not None and "quiet" in quiet.message.lower() and "closer" in quiet.message
    loud = qc.analyze(np.clip(x * 4, -1, 1), sr, detector=detector).check("clipping")
    assert loud is not None and "loud" in loud.message.lower()


def test_eight_bit_file_fails_bit_depth(clips, tmp_path) -> None:
    x, sr, _ = clips["LJ001-0008"]
    path = tmp_path / "u8.wav"
    sf.write(str(path), x, sr, subtype="PCM_U8")
    rep = qc.check_file(path)
    assert rep.check("bit_depth").verdict == "fail" and rep.measures["bits"] == 8
    good = tmp_path / "s16.wav"
    sf.write(str(good), x, sr, subtype="PCM_16")
    assert qc.check_file(good).check("bit_depth").verdict == "pass"


def test_unreadable_files_raise(tmp_path) -> None:
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF not really a wave file at all" * 10)
    for p in (empty, junk, tmp_path / "missing.wav"):
        with pytest.raises(AudioFormatError):
            qc.check_file(p)
    with pytest.raises(AudioFormatError):
        qc.analyze(np.array([0.1, np.nan], dtype=np.float32), 16000)


def test_silence_is_no_speech(detector) -> None:
    hiss = (np.random.default_rng(0).standard_normal(3 * 22050) * 1e-3).astype(np.float32)
    rep = qc.analyze(hiss, 22050, detector=detector)
    assert rep.verdict == "fail" and rep.check("speech").verdict == "fail"
    assert rep.check("level") is None  # nothing else to judge


def test_too_long_take_fails(clips, detector) -> None:
    x = np.concatenate([clips[k][0] for k in ("LJ001-0001", "LJ001-0003", "LJ001-0014", "LJ001-0015")])
    rep = qc.analyze(x, 22050, detector=detector)
    assert rep.check("too_long").verdict == "fail" and "import-audio" in rep.check("too_long").message


def test_long_silences_warn_but_keep_the_take(clips, detector) -> None:
    x, sr, _ = clips["LJ001-0004"]
    hiss = (np.random.default_rng(0).standard_normal(3 * sr) * 3e-4).astype(np.float32)
    rep = qc.analyze(np.concatenate([hiss, x, hiss]), sr, detector=detector)
    assert rep.check("silence_start").verdict == "warn" and rep.check("silence_end").verdict == "warn"
    assert rep.verdict == "warn"
    assert 2.8 < rep.measures["lead_silence_s"] < 3.3


def test_a_click_at_the_edge_is_not_cut_off_speech(clips, detector) -> None:
    x, sr, _ = clips["LJ001-0004"]
    click = np.zeros(int(0.25 * sr), dtype=np.float32)
    click[:40] = 0.5 * np.hanning(40)  # the key that started the recording
    rep = qc.analyze(np.concatenate([click, x]), sr, detector=detector)
    assert rep.check("truncated_start").verdict == "pass"


def test_stereo_channels(clips, detector) -> None:
    x, sr, _ = clips["LJ001-0011"]
    same = qc.analyze(np.column_stack([x, x]), sr, detector=detector)
    assert same.check("channels").verdict == "pass" and same.verdict == "pass"
    inverted = qc.analyze(np.column_stack([x, -x]), sr, detector=detector)
    assert inverted.check("channels").verdict == "fail" and "cancel" in inverted.check("channels").message
    assert inverted.check("level").verdict == "pass"  # judged on one channel, not the silent mix


def test_clipped_then_turned_down_is_still_clipping(clips, detector) -> None:
    x, sr, _ = clips["LJ001-0026"]
    y = np.clip(x * 3, -1, 1) * 0.5  # flat tops at half scale
    rep = qc.analyze(y, sr, detector=detector)
    assert rep.check("clipping").verdict == "fail"


# ------------------------------------------------------------------ baseline


def _speed_up(x: np.ndarray, sr: int, factor: float = 2.0) -> np.ndarray:
    """The same voice reading ``factor`` times faster, at the same pitch (WSOLA).

    Overlap-add of 40 ms windows taken ``factor`` times further apart than they are
    laid down; each window is nudged (within 10 ms) to line up with the waveform that
    would naturally follow the previous one, so pitch periods join without clicks.
    Resampling would also raise the pitch an octave, which the speech detector rightly
    stops calling speech.
    """
    n = int(0.04 * sr)
    hs = n // 2
    ha, tol = int(round(hs * factor)), int(0.01 * sr)
    win = np.hanning(n + 2)[1:-1].astype(np.float32)
    count = (len(x) - n - tol) // ha
    out = np.zeros(count * hs + n, dtype=np.float32)
    start = 0
    for k in range(count):
        if k:
            follow = x[start + hs : start + hs + n]
            lo = max(0, k * ha - tol)
            start = lo + int(np.argmax(np.correlate(x[lo : k * ha + tol + n], follow, mode="valid")))
        out[k * hs : k * hs + n] += win * x[start : start + n]
    return out


def test_fast_take_is_flagged_only_against_a_baseline(clips, clean_reports, detector) -> None:
    ratios = []
    for cid in ("LJ001-0001", "LJ001-0007", "LJ001-0016", "LJ001-0028"):
        x, sr, text = clips[cid]
        others = [r.measures for k, r in clean_reports.items() if k != cid]
        baseline = qc.SpeakerBaseline.from_measures(others)
        fast = _speed_up(x, sr)
        alone = qc.analyze(fast, sr, text=text, detector=detector)
        assert alone.check("speaking_rate") is None and alone.verdict == "pass", alone.problems()
        judged = qc.analyze(fast, sr, text=text, baseline=baseline, detector=detector)
        rate = judged.check("speaking_rate")
        assert rate is not None and rate.verdict in ("warn", "fail") and "faster" in rate.message
        ratios.append(rate.value)
        usual = qc.analyze(x, sr, text=text, baseline=baseline, detector=detector)
        assert usual.check("speaking_rate").verdict == "pass"
    assert np.median(ratios) > 1.6


def test_clean_clips_pass_against_their_own_baseline(clips, clean_reports, detector) -> None:
    for cid, (x, sr, text) in list(clips.items())[::3]:
        baseline = qc.SpeakerBaseline.from_measures([r.measures for k, r in clean_reports.items() if k != cid])
        rep = qc.analyze(x, sr, text=text, baseline=baseline, detector=detector)
        assert rep.check("speaking_rate").verdict == "pass", (cid, rep.check("speaking_rate"))
    no_text = qc.analyze(x, sr, baseline=baseline, detector=detector)
    assert no_text.check("duration").verdict == "pass" and no_text.check("speaking_rate") is None


def test_baseline_needs_enough_takes_and_ignores_missing_fields() -> None:
    takes = [{"duration_s": 5.0, "speech_rate": 12.0}] * 4 + [{"duration_s": 6.0}, {"note": "x", "flag": True}]
    b = qc.SpeakerBaseline.from_measures(takes)
    assert b.median("duration_s") == 5.0 and b.counts["duration_s"] == 5 and b.active()
    assert b.median("speech_rate") is None  # only 4 takes had it
    assert "note" not in b.counts and "flag" not in b.counts
    assert not qc.SpeakerBaseline.from_measures(takes[:4]).active()
    assert qc.SpeakerBaseline.from_dict(json.loads(json.dumps(b.to_dict()))) == b


def test_duration_against_baseline_without_text(clips, clean_reports, detector) -> None:
    baseline = qc.SpeakerBaseline.from_measures([r.measures for r in clean_reports.values()])
    x = np.concatenate([clips[k][0] for k in ("LJ001-0001", "LJ001-0003", "LJ001-0014")])
    rep = qc.analyze(x, 22050, baseline=baseline, detector=detector)
    assert rep.check("duration").verdict == "warn"


# ------------------------------------------------------------------ values and speed


def test_report_round_trips_through_json(clean_reports, clips, detector) -> None:
    x, sr, _ = clips["LJ001-0002"]
    for rep in (clean_reports["LJ001-0001"], qc.analyze(np.clip(4 * x, -1, 1), sr, detector=detector)):
        d = json.loads(json.dumps(rep.to_dict(), allow_nan=False))
        assert d["verdict"] == rep.verdict and d["schema_version"] == qc.SCHEMA_VERSION
        back = qc.QCReport.from_dict(d)
        assert back == rep and back.verdict == rep.verdict and back.problems() == rep.problems()


def test_thresholds_round_trip_and_refuse_typos() -> None:
    th = qc.QCThresholds(max_take_s=20.0, clip_fail_samples=5)
    assert qc.QCThresholds.from_dict(json.loads(json.dumps(th.to_dict()))) == th
    assert qc.QCThresholds.from_dict({"snr_fail_db": "10"}).snr_fail_db == 10.0
    with pytest.raises(UsageError):
        qc.QCThresholds.from_dict({"max_take": 20})


def test_thresholds_change_verdicts(clips, detector) -> None:
    x, sr, _ = clips["LJ001-0005"]
    strict = qc.QCThresholds(max_take_s=5.0)
    assert qc.analyze(x, sr, thresholds=strict, detector=detector).check("too_long").verdict == "fail"


def test_verdict_is_the_worst_check() -> None:
    rep = qc.QCReport([qc.Check("a", "pass", 1.0, "ok."), qc.Check("b", "warn", None, "hm."),
                       qc.Check("c", "fail", 2.0, "no.")], {})
    assert rep.verdict == "fail" and [c.name for c in rep.problems()] == ["c", "b"]
    assert qc.QCReport([], {}).verdict == "pass"


def test_a_long_48k_take_gets_every_check(clips, detector) -> None:
    """A 15 s take at 48 kHz (the browser's usual rate) is judged whole; its speed is in `voicebank bench qc`."""
    x = np.concatenate([clips["LJ001-0001"][0], clips["LJ001-0004"][0]])[: 15 * 22050]
    y = resample(x, 22050, 48000)
    report = qc.analyze(y, 48000, text=clips["LJ001-0001"][2] + " " + clips["LJ001-0004"][2], detector=detector)
    assert report.verdict != "fail", report.to_dict()
    assert len(y) > 12 * 48000 and abs(report.measures["duration_s"] - len(y) / 48000) < 1e-3
    assert report.measures["sample_rate"] == 48000
