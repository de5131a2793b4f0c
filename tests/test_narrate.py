"""`voicebank narrate` end to end on the sample book with the stock voice: M4B with chapters, the report, resume, the script.

One narration of ``samples/book`` (module-scoped, the real command in a subprocess) is shared by
the tests here. Resuming (and a rerun giving the same bytes) is tests/test_narrate_resume.py's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
BOOK = REPO / "samples" / "book" / "the-lighthouse-keeper.md"
VOICEBANK = [sys.executable, "-m", "voicebank.cli.main"]


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(VOICEBANK + args, capture_output=True, text=True, env=env, timeout=600)
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    return proc


@pytest.fixture(scope="module")
def env(home: Path) -> dict[str, str]:
    return dict(os.environ, VOICEBANK_HOME=str(home))


@pytest.fixture(scope="module")
def narrated(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> dict[str, Any]:
    """The sample book narrated once: M4B and MP3 chapter files, two workers."""
    out = tmp_path_factory.mktemp("narration") / "out"
    proc = run(["narrate", str(BOOK), "--out", str(out), "--format", "m4b,mp3", "--workers", "2"], env)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    report = json.loads((out / "report.json").read_text())
    return {"out": out, "report": report, "stdout": proc.stdout, "stderr": proc.stderr}


@pytest.mark.slow
def test_sample_book_becomes_an_m4b_with_its_chapters(narrated: dict[str, Any]) -> None:
    report = narrated["report"]
    titles = [c["title"] for c in report["chapters"]]
    assert titles[0] == "Chapter One: The Ledger" and "Copyright" not in titles and len(titles) >= 4
    m4b = Path(report["outputs"]["m4b"])
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_chapters", "-show_format", "-of", "json", str(m4b)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    info = json.loads(probe.stdout)
    marks = info["chapters"]
    assert [m["tags"]["title"] for m in marks] == titles
    # each mark starts where the chapters before it end (the mastered PCM is what was encoded)
    lengths = [c["seconds"] for c in report["chapters"]]
    starts = [float(m["start_time"]) for m in marks]
    assert starts[0] == pytest.approx(0.0, abs=0.05)
    assert starts == pytest.approx(list(np.cumsum([0.0] + lengths[:-1])), abs=0.1)
    assert float(info["format"]["duration"]) == pytest.approx(sum(lengths), abs=0.5)
    assert info["format"]["tags"]["title"] == "The Lighthouse Keeper's Ledger"
    assert len(report["outputs"]["chapter_files"]) == len(titles)
    assert all(Path(p).stat().st_size > 1000 for p in report["outputs"]["chapter_files"])
    assert report["chunks"]["failed"] == 0, report["chapters"]


@pytest.mark.slow
def test_outputs_are_marked_synthetic_and_pass_acx(narrated: dict[str, Any]) -> None:
    """Tags and a signed sidecar on every file, the watermark in the audio, ACX's limits on each chapter."""
    from voicebank.provenance.sidecar import check_sidecar
    from voicebank.provenance.tags import read_tags
    from voicebank.provenance.watermark import detect

    report = narrated["report"]
    files = [report["outputs"]["m4b"], *report["outputs"]["chapter_files"]]
    for path in files:
        tags = read_tags(path)
        assert tags is not None and tags.synthetic and tags.voice == "joe", path
    assert check_sidecar(files[0]).verdict == "valid"
    first = [p for p in report["outputs"]["pcm"] if Path(p).stat().st_size > 400_000][0]
    import soundfile as sf

    samples, rate = sf.read(first, dtype="float32")
    assert detect(samples, rate).present is True
    for acx in report["acx"]:
        assert acx["passes"], [(c["title"], c.get("reasons")) for c in acx.get("chapters", [])]


@pytest.mark.slow
def test_report_accounts_for_every_character(narrated: dict[str, Any]) -> None:
    from voicebank.audiobook.reader import read_book

    chars = narrated["report"]["characters"]
    assert chars["accounted"]
    assert chars["read"] + chars["skipped"] == chars["source"] == read_book(BOOK).source_chars()
    assert chars["skipped"] == sum(chars["by_reason"].values())
    assert {"note marker", "front matter: copyright page"} <= set(chars["by_reason"])
    for row in chars["chapters"]:
        assert row["read"] + sum(row["skipped"].values()) == row["source"], row
    text = (narrated["out"] / "report.md").read_text()
    assert f"{chars['source']} source characters: {chars['read']} read, {chars['skipped']} skipped" in text


@pytest.mark.slow
def test_exported_script_narrates_to_the_same_chunks(narrated: dict[str, Any], env: dict[str, str], tmp_path: Path) -> None:
    script = tmp_path / "book.txt"
    assert run(["narrate", str(BOOK), "--export-text", str(script)], env).returncode == 0
    assert script.read_text().startswith("voicebank-script: 1\n")
    proc = run(["narrate", str(script), "--dry-run", "--json", "--cache", str(narrated["out"] / "cache")], env)
    assert proc.returncode == 0, proc.stderr
    dry = json.loads(proc.stdout)
    distinct = narrated["report"]["chunks"]["distinct"]
    assert dry["chunks"] == dry["cached"] == distinct
    assert [c["title"] for c in dry["chapters"]] == [c["title"] for c in narrated["report"]["chapters"]]


def test_seeded_synthesis_repeats_exactly(engine: Any) -> None:
    from voicebank.engines.base import SynthesisOptions

    text = "The lamp was lit at five fifty-two in the evening, and the wind was from the north."
    a = engine.synthesize(text, SynthesisOptions(seed=7)).samples
    b = engine.synthesize(text, SynthesisOptions(seed=7)).samples
    c = engine.synthesize(text, SynthesisOptions(seed=8)).samples
    assert a.dtype == np.float32 and len(a) > 22050
    assert np.array_equal(a, b)
    assert len(a) != len(c) or not np.array_equal(a, c)


def test_a_chunk_that_never_passes_is_kept_and_reported(home: Path, tmp_path: Path) -> None:
    from voicebank.audiobook.cache import ChunkCache
    from voicebank.audiobook.local import cached_outcomes
    from voicebank.audiobook.plan import ChunkJob
    from voicebank.audiobook.synth import run_job

    job = ChunkJob("ab" * 32, chapter=2, index=5, text="…", voice="joe", synthesis={}, seed=0, attempts=2)
    outcome = run_job(job, str(tmp_path))
    assert not outcome.ok and outcome.attempts == 2 and outcome.problems
    assert ChunkCache(tmp_path).has(job.key)  # kept (the best take), so a rerun does not loop on it
    (again,), todo = cached_outcomes([job], str(tmp_path))
    assert not todo and again.cached and not again.ok and again.problems == outcome.problems
