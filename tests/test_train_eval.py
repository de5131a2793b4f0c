"""Voice evaluation (``voicebank train eval``): the metrics, and whether they measure what they claim.

Two "voices" are scored on the held-out LJSpeech recordings (one female reader):
the stock voice ``joe`` (a man: low similarity, real MCD) and the real held-out recordings
themselves played back through the ``synth`` hook (same speaker: high similarity, the
same WER as the real recordings, MCD 0). The field's scorers (ECAPA, Whisper) run with
Whisper tiny.en here to keep the tests quick; users get base.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from tests.helpers.train_data import one_thread_session_home  # noqa: F401 (autouse)
from voicebank.errors import EngineError, UsageError
from voicebank.train.dataset import DatasetError, load_dataset
from voicebank.train.metrics import (
    cosine,
    dtw_path,
    mcd_dtw,
    mean_embedding,
    merge_compounds,
    wer_words,
    word_errors,
)
from voicebank.train.report import line_chart, nice_ticks


SHORTEST = 12  # clips of the sample used here: the 12 shortest keep speech recognition quick


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A dataset (8 training, 4 held-out utterances) from the shortest LJSpeech clips."""
    from tests.conftest import LJSPEECH
    from voicebank.bank.importer import Importer
    from voicebank.bank.store import Bank
    from voicebank.train.dataset import prepare_dataset

    if not (LJSPEECH / "metadata.csv").is_file():
        pytest.skip(f"real recordings not available: {LJSPEECH} is absent")
    root = tmp_path_factory.mktemp("eval")
    rows = (LJSPEECH / "metadata.csv").read_text(encoding="utf-8").splitlines()
    rows.sort(key=lambda r: sf.info(str(LJSPEECH / "wavs" / f"{r.split('|')[0]}.wav")).frames)
    sample = root / "lj"
    (sample / "wavs").mkdir(parents=True)
    for r in rows[:SHORTEST]:
        name = f"{r.split('|')[0]}.wav"
        (sample / "wavs" / name).symlink_to(LJSPEECH / "wavs" / name)
    (sample / "metadata.csv").write_text("\n".join(rows[:SHORTEST]) + "\n", encoding="utf-8")
    with Bank.create(root / "bank") as bank:
        list(Importer(bank).import_ljspeech(sample))
    report = prepare_dataset(root / "bank", root / "data")
    assert (report.train, report.eval) == (SHORTEST - 4, 4)
    return root / "data"


def real_playback(dataset: Path) -> Any:
    """A 'voice' that answers each held-out text with the real recording of it."""
    ds = load_dataset(dataset)
    table = {}
    for u in ds.eval:
        x, rate = sf.read(str(u.wav), dtype="float32")
        table[u.normalized] = (x, rate)
    return lambda text: table[text]


@pytest.fixture(scope="module")
def evaluated(dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    from voicebank.train.evaluate import evaluate_voice

    out = tmp_path_factory.mktemp("report")
    result = evaluate_voice(
        "real-recordings", dataset, synth=real_playback(dataset), baseline="joe", out_dir=out, whisper="tiny.en"
    )
    return result, out


# ------------------------------------------------------------------------ metrics alone


def test_dtw_matches_the_textbook_recursion() -> None:
    rng = np.random.default_rng(3)
    cost = rng.random((9, 13))
    rows, cols = dtw_path(cost)
    acc = np.full((10, 14), np.inf)
    acc[0, 0] = 0.0
    for i in range(1, 10):
        for j in range(1, 14):
            acc[i, j] = cost[i - 1, j - 1] + min(acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
    assert cost[rows, cols].sum() == pytest.approx(acc[9, 13])
    assert (rows[0], cols[0], rows[-1], cols[-1]) == (0, 0, 8, 12)
    assert np.all(np.diff(rows) >= 0) and np.all(np.diff(cols) >= 0)


def test_mcd_is_zero_for_the_same_audio_and_ignores_level(dataset: Path) -> None:
    ds = load_dataset(dataset)
    x, rate = sf.read(str(ds.eval[0].wav), dtype="float32")
    y, rate_y = sf.read(str(ds.eval[1].wav), dtype="float32")
    assert mcd_dtw(x, rate, x, rate) == 0.0
    assert mcd_dtw(x, rate, 0.25 * x, rate) < 0.01
    slower = np.interp(np.arange(0, x.shape[0], 0.8), np.arange(x.shape[0]), x).astype(np.float32)
    assert mcd_dtw(x, rate, slower, rate) < mcd_dtw(x, rate, y, rate_y)  # DTW absorbs timing, not content


def test_wer_normalisation_and_compounds() -> None:
    assert wer_words('The "forty-two line Bible," Zoë’s') == ["the", "forty", "two", "line", "bible", "zoe's"]
    ref, hyp = merge_compounds(["the", "woodcutters", "wood", "blocks"], ["the", "wood", "cutters", "woodblocks"])
    assert ref == hyp == ["the", "woodcutters", "woodblocks"]
    assert word_errors("Before the woodcutters, of the Netherlands.", "before the wood cutters of the netherlands") == (0, 6)
    assert word_errors("in being comparatively modern", "in being comparatively mater") == (1, 4)
    assert word_errors("in being modern", "") == (3, 3)


def test_similarity_helpers() -> None:
    a, b = np.array([1.0, 0.0]), np.array([0.0, 2.0])
    assert cosine(a, a) == pytest.approx(1.0) and cosine(a, b) == pytest.approx(0.0) and cosine(a, None) is None
    m = mean_embedding([a, b, None])
    assert m is not None and np.linalg.norm(m) == pytest.approx(1.0)


def test_svg_helpers() -> None:
    assert nice_ticks(0.13, 0.97) == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(0, 1000)[-1] >= 1000
    svg = line_chart([("loss", "#000", [(0, 3.0), (100, 2.0), (200, 1.5)])], title="Loss", x_label="step", y_label="loss")
    assert svg.startswith("<svg") and "<polyline" in svg and svg.endswith("</svg>")


# -------------------------------------------------------------------- whole evaluation


@pytest.mark.slow
def test_metrics_tell_the_real_speaker_from_the_stock_voice(evaluated: tuple[dict[str, Any], Path]) -> None:
    result, _ = evaluated
    real, joe = result["mean"], result["baseline"]["mean"]
    # same speaker (leave-one-out) vs a male voice against a female reader
    assert real["similarity"] > 0.85 and joe["similarity"] < 0.7
    assert result["gain"]["similarity"] > 0.2
    # the recordings themselves: MCD 0; the stock voice: several dB
    assert real["mcd_db"] == 0.0 and joe["mcd_db"] > 3.0
    assert result["gain"]["mcd_db"] == pytest.approx(joe["mcd_db"])
    # playing the recordings gives exactly the recordings' own transcripts and WER (the ceiling)
    assert real["wer"] == result["real"]["mean"]["wer"]
    assert [u["hypothesis"] for u in result["utterances"]] == [u["hypothesis"] for u in result["real"]["utterances"]]
    assert 0.0 <= real["wer"] < 0.6 and 0.0 <= joe["wer"] < 0.8
    assert joe["rtf"] > 0.0  # measured; how fast is for `voicebank bench latency`, not a loaded test machine
    assert result["real"]["mean"]["similarity"] == pytest.approx(real["similarity"])


@pytest.mark.slow
def test_field_scorers_with_intervals_for_voice_baseline_and_real(evaluated: tuple[dict[str, Any], Path]) -> None:
    from voicebank.train.speaker_verify import ECAPA_THRESHOLD

    result, out = evaluated
    means = {"voice": result["mean"], "baseline": result["baseline"]["mean"], "real": result["real"]["mean"]}
    for name, m in means.items():
        for key in ("similarity_ecapa", "wer_whisper", "cer_whisper"):
            lo, hi = m[f"{key}_ci95"]
            assert lo <= m[key] <= hi, (name, key, m)
    # ECAPA: the real recordings (each against the others) well above the verifier's threshold,
    # the stock voice (a man) below it; playing the recordings back scores exactly as they do
    real, joe = means["real"], means["baseline"]
    assert real["similarity_ecapa"] > ECAPA_THRESHOLD > joe["similarity_ecapa"]
    assert real["similarity_ecapa"] - joe["similarity_ecapa"] > 0.5
    assert means["voice"]["similarity_ecapa"] == pytest.approx(real["similarity_ecapa"], abs=1e-3)
    assert result["gain"]["gap_closed_ecapa"] == pytest.approx(1.0)
    # Whisper understands the real reader and the stock voice alike (both clear speech)
    assert real["wer_whisper"] < 0.2 and joe["wer_whisper"] < 0.3 and real["cer_whisper"] <= real["wer_whisper"] + 0.05
    for row in result["utterances"] + result["baseline"]["utterances"] + result["real"]["utterances"]:
        assert {"similarity_ecapa", "wer_whisper", "cer_whisper", "hypothesis_whisper"} <= set(row)
        assert row["hypothesis_whisper"]
    assert set(result["scorers"]) == {"selection", "success"} and "never" in result["scorers"]["success"]
    assert {"similarity_ecapa", "wer_whisper", "cer_whisper", "ci95"} <= set(result["method"])
    page = (out / "eval.html").read_text(encoding="utf-8")
    assert "Speaker similarity (ECAPA)" in page and "Word error rate (Whisper)" in page and "Which score is which" in page
    lo, hi = real["similarity_ecapa_ci95"]
    assert f"[{lo:.3f}, {hi:.3f}]" in page


def test_bootstrap_interval_holds_the_estimate_and_narrows_with_more_sentences() -> None:
    from voicebank.train.bootstrap import mean_interval, ratio_interval

    rng = np.random.default_rng(7)

    def sentences(n: int) -> tuple[np.ndarray, np.ndarray]:
        words = rng.integers(5, 25, size=n)
        return rng.binomial(words, 0.15), words

    widths = []
    for n in (8, 80):
        errors, words = sentences(n)
        lo, hi = ratio_interval(errors, words)
        assert lo <= errors.sum() / words.sum() <= hi
        widths.append(hi - lo)
        assert ratio_interval(errors, words) == (lo, hi)  # seeded: the same scores, the same interval
    assert widths[1] < widths[0] / 2
    # a mean, with every take of a sentence resampled together
    takes = [[0.9, 0.8], [0.5, None, 0.6], [0.7]]
    lo, hi = mean_interval(takes)
    assert lo <= float(np.mean([0.9, 0.8, 0.5, 0.6, 0.7])) <= hi and 0.5 <= lo and hi <= 0.9
    assert mean_interval([[0.4], [0.4]]) == (0.4, 0.4)
    assert ratio_interval([], []) is None and ratio_interval([1.0], [0.0]) is None


def test_field_means_pool_takes_by_sentence() -> None:
    from voicebank.train.eval_scoring import field_means

    def row(uid: str, sim: float, errors: int, words: int) -> dict[str, Any]:
        return {"id": uid, "similarity_ecapa": sim, "wer_whisper": errors / words, "errors_whisper": errors,
                "words_whisper": words, "char_errors_whisper": 2 * errors, "chars_whisper": 6 * words}

    rows = [row("a", 0.2, 1, 10), row("b", 0.4, 0, 4), row("a", 0.3, 3, 10)]  # two takes of "a"
    m = field_means(rows)
    assert m["wer_whisper"] == pytest.approx(4 / 24, abs=1e-4) and m["cer_whisper"] == pytest.approx(8 / 144, abs=1e-4)
    assert m["similarity_ecapa"] == pytest.approx(0.3)
    # two sentences: a resample holds "a" twice (0.2), "b" twice (0) or one of each (0.1667)
    assert m["wer_whisper_ci95"] == [0.0, 0.2]


@pytest.mark.slow
def test_result_json_shape_and_files(evaluated: tuple[dict[str, Any], Path], dataset: Path) -> None:
    result, out = evaluated
    assert result["schema_version"] == 1 and result["voice"] == "real-recordings"
    assert result["dataset"] == str(dataset)
    assert set(result["mean"]) >= {"similarity", "wer", "mcd_db", "rtf"}
    assert result["baseline"]["voice"] == "joe" and set(result["gain"]) >= {"similarity", "wer", "mcd_db"}
    ids = [u.id for u in load_dataset(dataset).eval]
    assert [u["id"] for u in result["utterances"]] == ids
    for row in result["utterances"] + result["baseline"]["utterances"]:
        assert {"similarity", "similarity_pair", "wer", "mcd_db", "rtf", "hypothesis", "audio"} <= set(row)
    on_disk = json.loads((out / "eval.json").read_text())
    assert on_disk["mean"] == result["mean"] and on_disk["gain"] == result["gain"]
    assert on_disk["training_log"]["path"] is None


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


@pytest.mark.slow
def test_html_report_has_plots_and_a_player_per_utterance_and_voice(evaluated: tuple[dict[str, Any], Path]) -> None:
    result, out = evaluated
    page = (out / "eval.html").read_text(encoding="utf-8")
    parser = _Tags()
    parser.feed(page)
    audio = [attrs["src"] for tag, attrs in parser.tags if tag == "audio"]
    voices = 3  # real recording, the voice, the baseline
    assert len(audio) == len(result["utterances"]) * voices
    assert all(src and not src.startswith(("/", "http")) and (out / src).is_file() for src in audio)
    assert sf.info(str(out / audio[0])).samplerate == 22050
    assert sum(tag == "svg" for tag, _ in parser.tags) >= 1
    assert "No training log was found" in page
    assert not any(tag in ("script", "link") for tag, _ in parser.tags)  # self-contained, offline


@pytest.mark.slow
def test_training_curves_from_the_voice_folder(dataset: Path, tmp_path: Path) -> None:
    from voicebank.train.evaluate import evaluate_voice

    voice = tmp_path / "my-voice"
    voice.mkdir()
    lines = [json.dumps({"step": s, "loss_train": 3.0 / (1 + s / 100), "loss_eval": 3.2 / (1 + s / 120),
                         "similarity": 0.5 + s / 4000, "wer": 0.9 - s / 2000}) for s in range(0, 1001, 100)]
    (voice / "train_log.jsonl").write_text("\n".join(lines + ["{not json", '{"step": 1100}']) + "\n")
    result = evaluate_voice(
        voice, dataset, synth=real_playback(dataset), baseline=None, out_dir=tmp_path / "out", limit=1, field=False
    )
    assert result["baseline"] is None and result["gain"] is None and len(result["utterances"]) == 1
    assert result["training_log"] == {"path": str(voice / "train_log.jsonl"), "points": 12, "unreadable_lines": 1}
    page = (tmp_path / "out" / "eval.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 3  # loss, similarity and WER during training, per-sentence similarity
    assert "held-out loss" in page and "word error rate" in page and "No training log" not in page
    assert page.count("<audio") == 2
    assert "wer_whisper" not in result["mean"] and "scorers" not in result  # field=False: the quick scorers only


def test_bad_inputs(dataset: Path, tmp_path: Path) -> None:
    from voicebank.train.evaluate import evaluate_voice

    with pytest.raises(DatasetError, match="not a dataset folder"):
        evaluate_voice("joe", tmp_path)
    with pytest.raises(EngineError, match="does not exist"):
        evaluate_voice(tmp_path / "no-such-voice", dataset)
    empty = tmp_path / "noeval"
    (empty / "wavs").mkdir(parents=True)
    (empty / "metadata.csv").write_text("a|b|b\n")
    with pytest.raises(DatasetError, match="no held-out utterances"):
        evaluate_voice("joe", empty)


@pytest.mark.slow
def test_cli_eval_of_the_stock_voice(dataset: Path, tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("voicebank")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [str(exe), "train", "eval", "joe", "--dataset", str(dataset), "--baseline", "none", "--limit", "1",
         "--whisper", "tiny.en", "--json"],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["voice"] == "joe" and len(data["utterances"]) == 1 and data["baseline"] is None
    assert data["mean"]["similarity"] < 0.75 and data["mean"]["mcd_db"] > 3.0
    assert data["mean"]["similarity_ecapa"] < 0.3 and data["mean"]["wer_whisper"] < 0.5
    assert data["real"]["mean"]["similarity_ecapa"] is None  # one held-out recording: no other to compare with
    assert (dataset / "eval-joe" / "eval.html").is_file() and (dataset / "eval-joe" / "eval.json").is_file()


@pytest.mark.slow
def test_repeats_pool_every_take_and_report_their_spread(dataset: Path, tmp_path: Path) -> None:
    """--repeats N: every held-out text is spoken N times; the means pool all takes. A voice that
    samples noise (joe) differs between takes, the real recordings played back do not."""
    import numpy as np

    from voicebank.train.evaluate import evaluate_voice

    result = evaluate_voice("joe", dataset, baseline=None, out_dir=tmp_path / "joe", limit=2, repeats=3, field=False)
    takes = result["repeats"]
    assert takes["count"] == 3 and len(takes["voice"]["takes"]) == 3 and takes["baseline"] is None
    rows = result["utterances"]
    assert len(rows) == 2 and all(len(r["takes"]) == 3 for r in rows)
    every = [t["similarity"] for r in rows for t in r["takes"]]
    assert result["mean"]["similarity"] == pytest.approx(float(np.mean(every)), abs=1e-4)
    # fresh noise each take: a text's takes differ (scores are rounded to 4 places, so two of
    # them may meet by chance; all three alike would mean the noise was not fresh)
    assert all(len({t["similarity"] for t in r["takes"]}) > 1 for r in rows)
    assert takes["voice"]["sd"]["similarity"] > 0
    assert rows[0]["takes"][0]["similarity"] == rows[0]["similarity"]  # the row shown is the first take
    assert "first take" in result["method"]["utterances"]  # and the result says so, for per-sentence comparisons
    page = (tmp_path / "joe" / "eval.html").read_text(encoding="utf-8")
    assert "spoken 3 times" in page and "Standard deviation of the WER between takes: this voice" in page

    same = evaluate_voice("real", dataset, synth=real_playback(dataset), baseline=None, limit=2, repeats=2, field=False)
    assert same["repeats"]["voice"]["sd"] == {"similarity": 0.0, "wer": 0.0}
    with pytest.raises(UsageError, match="--repeats"):
        evaluate_voice("joe", dataset, baseline=None, repeats=0)
