"""The ECAPA speaker verifier on real speech, its weight pin, and the calibration benchmark."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from tests.helpers.real_speech import clips
from voicebank.benchmarks import verifier as bench
from voicebank.train.speaker_verify import (
    ECAPA_THRESHOLD,
    EMBEDDING_PIN,
    EcapaVerifier,
    TooLittleAudioError,
    cosine,
)
from voicebank.voice.packaged_weights import Pinned, WeightsMismatchError

# find_spec, not importorskip: importing speechbrain while pytest collects breaks Hypothesis's
# plugin, which reads every loaded module's __file__ (speechbrain's lazy modules then fail)
pytestmark = pytest.mark.skipif(importlib.util.find_spec("speechbrain") is None, reason="speechbrain is not installed")


@pytest.fixture(scope="module")
def verifier() -> EcapaVerifier:
    return EcapaVerifier()


def test_same_speaker_above_threshold_and_different_below(verifier: EcapaVerifier) -> None:
    (a, ra), (b, rb) = clips("ljspeech", 2)
    (m, rm), = clips("librivox-man", 1)
    ea, eb, em = verifier.embed_many([(a, ra), (b, rb), (m, rm)])
    assert ea.shape == (192,) and ea.dtype == np.float32
    assert abs(float(np.linalg.norm(ea)) - 1.0) < 1e-5
    assert cosine(ea, eb) > ECAPA_THRESHOLD
    assert cosine(ea, em) < ECAPA_THRESHOLD
    assert cosine(eb, em) < ECAPA_THRESHOLD
    # The rate is handled inside: the same words given at 16 kHz embed to nearly the same vector.
    from voicebank.audio import resample

    assert cosine(ea, verifier.embed(resample(a, ra, 16000), 16000)) > 0.98


def test_too_short_audio_is_refused(verifier: EcapaVerifier) -> None:
    with pytest.raises(TooLittleAudioError, match="too short"):
        verifier.embed(np.zeros(800, dtype=np.float32), 16000)


def test_weights_that_do_not_match_their_pin_are_refused(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    pkg = tmp_path / "repacked_ecapa"
    (pkg / "model").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "model" / "embedding_model.ckpt").write_bytes(b"not the upstream ECAPA weights")
    monkeypatch.syspath_prepend(str(tmp_path))
    pin = Pinned("repacked_ecapa", "model/embedding_model.ckpt", EMBEDDING_PIN.sha256, "train", "the ECAPA speaker verifier")
    with pytest.raises(WeightsMismatchError, match="ECAPA speaker verifier"):
        EcapaVerifier(pin=pin)


def test_equal_error_rate_on_known_scores() -> None:
    apart = bench.equal_error([0.7, 0.8, 0.9], [0.1, 0.2, 0.3])
    assert apart["eer"] == 0.0 and apart["threshold"] == 0.5 and apart["gap"] == [0.3, 0.7]
    overlap = bench.equal_error([0.2, 0.6, 0.7, 0.8], [0.1, 0.3, 0.4, 0.65])
    assert overlap["eer"] == 0.25
    assert 0.1 < overlap["normal_fit"]["threshold"] < 0.8


@pytest.mark.slow
def test_bench_calibrates_on_a_small_subset(capsys) -> None:  # type: ignore[no-untyped-def]
    clips("ljspeech", 2)
    clips("librivox-man", 2)
    rc = bench.main(["--json", "--per-speaker", "2", "--max-seconds", "3", "--speakers", "ljspeech,librivox-man",
                     "--channels", "mp3_32k", "--channel-clips", "2"])
    assert rc == 0
    report = json.loads(capsys.readouterr().out)
    assert [s["name"] for s in report["speakers"]] == ["ljspeech", "librivox-man"]
    for name in ("ecapa", "resemblyzer"):
        utt = report["encoders"][name]["utterance"]
        assert utt["same"]["n"] == 2 and utt["different"]["n"] == 4
        assert "threshold" in utt["equal_error"]
    ecapa = report["encoders"]["ecapa"]
    assert ecapa["utterance"]["equal_error"]["eer"] == 0.0
    assert ecapa["channels"]["mp3_32k"]["same"]["min"] > ECAPA_THRESHOLD
