"""Microphone capture and playback for real, through a private PulseAudio null sink.

A real LJSpeech sentence is played into the sink while the recorder captures the sink's
monitor (the default input), and what was captured is compared with what was played.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
import soundfile as sf

from tests.pulse import PulseServer, correlate_audio
from voicebank.bank.prompts import load_script
from voicebank.bank.store import Bank
from voicebank.errors import AudioDeviceError, MissingDependencyError
from voicebank.record import spool
from voicebank.record.capture import Capture, CaptureSettings, Player, Recorder, sounddevice_module
from voicebank.record.session import RecordingSession

CLIP = "LJ001-0002.wav"  # 1.9 s: "in being comparatively modern."


def _recorder(tmp_path: Path, **settings) -> Recorder:
    rec = Recorder(tmp_path / "spool", CaptureSettings(**settings)).open()
    assert rec.wait_ready(15), "the microphone (null-sink monitor) delivered nothing"
    return rec


def _wait_stopped(rec: Recorder, timeout: float) -> tuple[list[str], Capture | None]:
    kinds: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for ev in rec.events():
            kinds.append(ev.kind)
            if ev.kind == "stopped":
                return kinds, ev.capture
        time.sleep(0.02)
    return kinds, None


@pytest.mark.slow
def test_push_to_talk_take_correlates_with_played_audio(
    pulse_server: PulseServer, ljspeech: Path, tmp_path: Path, record_property
) -> None:
    wav = ljspeech / "wavs" / CLIP
    ref, ref_rate = sf.read(wav, dtype="float32")
    rec = _recorder(tmp_path, mode="push")
    try:
        rec.start("s0001", "in being comparatively modern.")
        pulse_server.play(wav)
        time.sleep(0.3)
        # Still recording: the spool on disk already holds what was heard (crash safety).
        [meta] = spool.list_spools(tmp_path / "spool")
        _, spooled = spool.read_spool(meta)
        r_spool, _, overlap_spool = correlate_audio(spooled, rec.sample_rate, ref, ref_rate)
        assert r_spool > 0.95 and overlap_spool > 0.98, (r_spool, overlap_spool)
        cap = rec.stop()
    finally:
        rec.close()
    assert cap is not None and cap.reason == "stopped"
    assert cap.duration == pytest.approx(len(ref) / ref_rate + 0.6, abs=0.6)

    # Saved into a bank exactly as the recorder does it, and read back from the bank.
    with Bank.create(tmp_path / "bank") as bank:
        session = RecordingSession(bank, load_script("en-core")[:3], script="en-core")
        saved = session.save_capture(cap.samples, cap.sample_rate, capture_id=cap.capture_id)
        cap.discard_spool()
        samples, rate = bank.read_take(saved.take)
    r, lag, overlap = correlate_audio(samples, rate, ref, ref_rate)
    record_property("correlation", round(r, 4))
    print(f"push-to-talk take vs played clip: r={r:.4f} lag={lag * 1000:.1f} ms overlap={overlap:.3f} "
          f"rate={rate} QC={saved.verdict}")
    assert r > 0.95, f"captured audio does not match the played clip (r={r:.3f})"
    assert overlap > 0.98
    assert saved.verdict == "pass", [c.message for c in saved.problems]
    assert spool.list_spools(tmp_path / "spool") == []


@pytest.mark.slow
def test_auto_mode_starts_on_speech_and_stops_after_the_pause(
    pulse_server: PulseServer, ljspeech: Path, tmp_path: Path, record_property
) -> None:
    wav = ljspeech / "wavs" / CLIP
    ref, ref_rate = sf.read(wav, dtype="float32")
    rec = _recorder(tmp_path, mode="auto", end_silence_s=0.8, tail_s=0.4)
    try:
        rec.arm("s0001", "in being comparatively modern.")
        time.sleep(0.6)
        assert rec.state == "armed" and rec.events() == []  # silence does not start a take
        pulse_server.play(wav, wait=False)
        kinds, cap = _wait_stopped(rec, timeout=12)
    finally:
        rec.close()
    assert kinds == ["started", "stopped"] and cap is not None
    assert cap.reason == "pause"
    clip_s = len(ref) / ref_rate
    # Pre-roll (0.3 s at most) + the sentence + the kept tail (0.4 s), not the whole wait.
    assert clip_s - 0.2 < cap.duration < clip_s + 0.3 + 0.4 + 0.3, cap.duration
    r, lag, overlap = correlate_audio(cap.samples, cap.sample_rate, ref, ref_rate)
    record_property("correlation", round(r, 4))
    print(f"auto take vs played clip: r={r:.4f} lag={lag * 1000:.1f} ms overlap={overlap:.3f} "
          f"duration={cap.duration:.2f}s")
    assert r > 0.95 and overlap > 0.95


@pytest.mark.slow
def test_playback_reaches_the_speakers(pulse_server: PulseServer, ljspeech: Path, tmp_path: Path) -> None:
    ref, ref_rate = sf.read(ljspeech / "wavs" / CLIP, dtype="float32")
    rec = _recorder(tmp_path, mode="push")
    player = Player()
    try:
        rec.start("s0001")
        player.play(ref, ref_rate)
        assert player.playing
        assert player.wait(10)
        time.sleep(0.3)
        cap = rec.stop()
    finally:
        player.stop()
        rec.close()
    assert cap is not None
    r, _, overlap = correlate_audio(cap.samples, cap.sample_rate, ref, ref_rate)
    assert r > 0.95 and overlap > 0.95, (r, overlap)


def test_unknown_microphone_is_a_clear_error(pulse_server: PulseServer, tmp_path: Path) -> None:
    with pytest.raises(AudioDeviceError, match="--list-devices"):
        Recorder(tmp_path, CaptureSettings(device="no such microphone")).open()


def test_missing_sounddevice_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails as if not installed
    with pytest.raises(MissingDependencyError, match=r"voicebank\[record\]"):
        sounddevice_module()
