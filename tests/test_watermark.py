"""The watermark on real audio: marked stock-voice speech is found, real speech is not, streams keep their length."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

pytest.importorskip("torchaudio")
pytest.importorskip("perth")

from voicebank.audio import UNPACED, AudioChunk  # noqa: E402
from voicebank.provenance.watermark import MIN_JUDGE_SECONDS, StreamMarker, detect, mark  # noqa: E402

TEXT = "The old lighthouse keeper walked slowly along the narrow path. He checked the lamp before the storm arrived."


@pytest.fixture(scope="module")
def chunks(engine: Any) -> list[Any]:
    """The streaming engine's own chunks for two sentences (as a file is written: unpaced)."""
    return list(engine.stream(TEXT, None, UNPACED))


@pytest.fixture(scope="module")
def speech(chunks: list[Any]) -> tuple[np.ndarray, int]:
    return np.concatenate([c.as_float32() for c in chunks]), chunks[0].sample_rate


def test_marked_speech_is_found_and_mark_keeps_length_and_is_deterministic(speech: tuple[np.ndarray, int]) -> None:
    samples, rate = speech
    marked = mark(samples, rate)
    assert marked.dtype == np.float32 and marked.shape == samples.shape
    assert np.abs(marked).max() <= 1.0
    assert np.array_equal(marked, mark(samples.copy(), rate)), "the same input gives bit-identical output"
    assert not np.array_equal(marked, samples)
    found, clean = detect(marked, rate), detect(samples, rate)
    assert found.present is True and found.confidence > 0.9
    assert clean.present is False and clean.confidence < 0.5  # the unmarked voice is not marked by itself
    from_int16 = mark((samples * 32767).astype(np.int16), rate)
    assert from_int16.dtype == np.float32 and from_int16.shape == samples.shape


def test_real_speech_is_not_marked_and_a_short_clip_is_not_judged(ljspeech: Path) -> None:
    judged = 0
    for wav in sorted((ljspeech / "wavs").glob("*.wav"))[:4]:
        samples, rate = sf.read(wav, dtype="float32")
        if samples.size / rate < 3.0:
            continue
        verdict = detect(samples, rate)
        assert verdict.present is False, (wav.name, verdict)
        judged += 1
        short = detect(samples[:rate], rate)  # one second
        assert short.present is None and "too short" in short.reason and short.seconds == pytest.approx(1.0)
    assert judged >= 2
    assert MIN_JUDGE_SECONDS > 1.0


def test_stream_marker_keeps_length_flags_and_words_and_the_mark_is_found(chunks: list[Any], speech: tuple[np.ndarray, int]) -> None:
    samples, rate = speech
    marker = StreamMarker()
    out = []
    for chunk in chunks:
        ready = marker.feed(chunk)
        if chunk is chunks[0]:
            assert ready and sum(c.frames for c in ready) == chunk.frames, "the first chunk is sent at once"
        out += ready
    out += marker.finish()
    joined = np.concatenate([c.as_float32() for c in out])
    assert joined.shape == samples.shape
    assert out[0].sentence_start and out[-1].utterance_end and sum(c.utterance_end for c in out) == 1
    assert sum(c.sentence_start for c in out) == sum(c.sentence_start for c in chunks) == 2
    assert sum(c.sentence_end for c in out) == sum(c.sentence_end for c in chunks)
    assert [w.text for c in out for w in c.words] == [w.text for c in chunks for w in c.words]
    assert detect(joined, rate).present is True
    # a long first chunk (an engine that speaks whole sentences): its first tenth of a second goes out first
    whole = StreamMarker().after(AudioChunk(samples, rate, sentence_start=True, sentence_end=True, utterance_end=True))
    first, rest = next(whole), list(whole)
    assert first.frames == round(0.1 * rate) and first.sentence_start and rest[-1].utterance_end
    assert first.frames + sum(c.frames for c in rest) == samples.size
    # the seam after the first block (sent without lookahead) leaves no step in the mark
    mark_only = joined - samples
    seam = chunks[0].frames  # the first chunk's end: marked without the next chunk as lookahead
    assert abs(mark_only[seam] - mark_only[seam - 1]) < 4 * np.abs(np.diff(mark_only)).mean() + 1e-4


def test_marked_engine_hides_the_unmarked_sentence_paths(engine: Any) -> None:
    from voicebank.engines.marked import MarkedEngine

    marked = MarkedEngine(engine)
    assert marked.sample_rate == engine.sample_rate and not hasattr(marked, "plan") and hasattr(engine, "plan")
    clip = marked.synthesize("Yes, thank you, that will do nicely for now, I think.")
    assert clip.samples.dtype == np.float32 and clip.utterance_end


@pytest.mark.slow  # two CLI runs, each loading the voice
def test_speak_out_is_marked_unless_turned_off(tmp_path: Path) -> None:
    env = dict(os.environ, VOICEBANK_HOME=str(tmp_path / "home"))
    results = {}
    for name, extra in (("marked", []), ("plain", ["--no-watermark"])):
        out = tmp_path / f"{name}.wav"
        proc = subprocess.run([sys.executable, "-m", "voicebank.cli.main", "speak", TEXT, "--out", str(out), *extra],
                              capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        samples, rate = sf.read(out, dtype="float32")
        results[name] = detect(samples, rate)
    assert results["marked"].present is True
    assert results["plain"].present is False


def test_missing_network_names_the_trust_extra(tmp_path: Path) -> None:
    """The first mark on a machine reads perth's network with torch (then caches it as ONNX)."""
    code = (
        "import sys; sys.modules['torchaudio'] = None\n"  # as if the trust extra were not installed
        "import numpy as np\n"
        "from voicebank.errors import MissingDependencyError\n"
        "from voicebank.provenance.watermark import mark\n"
        "try:\n    mark(np.zeros(22050, np.float32), 22050)\n"
        "except MissingDependencyError as e:\n    print('ERR', e)\n"
    )
    env = dict(os.environ, VOICEBANK_HOME=str(tmp_path / "home"))  # no cached encoder yet
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
    assert proc.stdout.startswith("ERR") and "trust" in proc.stdout, proc.stdout + proc.stderr


def test_onnx_marker_agrees_with_perths_torch_network(ljspeech: Path) -> None:
    """The mark made on ONNX Runtime is perth's own mark (to well past audibility), and detected."""
    from voicebank.provenance.watermark_core import _to_perth, reference_residual32
    from voicebank.provenance.watermark_onnx import residual32

    samples, rate = sf.read(ljspeech / "wavs" / "LJ001-0001.wav", dtype="float32")
    x32 = _to_perth(samples, rate)
    ours, theirs = residual32(x32), reference_residual32(x32)
    assert 10 * np.log10(np.sum(theirs**2) / np.sum((theirs - ours) ** 2)) > 60.0
    assert detect(mark(samples, rate), rate).present is True


def test_speaking_imports_no_torch(tmp_path: Path) -> None:
    """Marking runs on ONNX Runtime: a one-shot 'speak --out' starts without torch (once the encoder is cached)."""
    env = dict(os.environ, VOICEBANK_HOME=str(tmp_path / "home"))
    cmd = [sys.executable, "-X", "importtime", "-m", "voicebank.cli.main", "speak", "Hello there.", "--out", str(tmp_path / "a.wav")]
    subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=True)  # caches the encoder
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=True)
    imported = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if "|" in line}
    assert "onnxruntime" in imported and "torch" not in imported


@pytest.mark.slow  # a real server loading the voice and the network
def test_served_speech_is_marked_when_the_server_marks(home: Path) -> None:
    import httpx

    from tests.helpers.serving import running
    from voicebank.serve.app import create_app
    from voicebank.serve.settings import ServeSettings

    app = create_app(ServeSettings(port=0, token=None, watermark=True))
    with running(app) as (url, _):
        body = {"model": "tts-1", "voice": "joe", "input": TEXT, "response_format": "pcm"}
        reply = httpx.post(f"{url}/v1/audio/speech", json=body, timeout=120)
    assert reply.status_code == 200
    samples = np.frombuffer(reply.content, dtype="<i2")
    assert detect(samples, 24000).present is True  # the OpenAI API's PCM is 24 kHz
