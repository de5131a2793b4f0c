"""Making XTTS voice folders: from a bank's best takes or from clips (references + card).

The folder format (``voice.json``, ``references/``, the model files of a fine-tuned voice)
is :mod:`voicebank.voice.xtts_card`; this module picks and trims the clips and writes them.
No torch and no Coqui here.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import PathLike, resample, to_mono
from ..config import voices_dir
from ..durable import atomic_write
from ..errors import EngineError, UsageError
from ..voice.xtts_card import GPT_RATE, REFERENCES, write_card


def write_voice(
    folder: PathLike,
    clips: Sequence[tuple[str, np.ndarray, int]],
    *,
    name: str,
    kind: str,
    base: PathLike | None = None,
    language: str = "en",
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write (or refresh) a voice folder: ``references/<id>.wav`` at 22.05 kHz and ``voice.json``.

    ``clips`` are ``(id, mono float samples, rate)``. References no longer listed are removed;
    the model files of a fine-tuned voice are left alone.
    """
    import soundfile as sf

    root = Path(folder)
    refs_dir = root / REFERENCES
    refs_dir.mkdir(parents=True, exist_ok=True)
    names = []
    for clip_id, samples, rate in clips:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in clip_id) or "clip"
        target = refs_dir / f"{safe}.wav"
        buf = io.BytesIO()
        audio = resample(to_mono(np.asarray(samples, np.float32)), int(rate), GPT_RATE)
        sf.write(buf, np.clip(audio, -1.0, 1.0), GPT_RATE, subtype="PCM_16", format="WAV")
        if not target.is_file() or target.read_bytes() != buf.getvalue():
            atomic_write(target, buf.getvalue())
        names.append(target.name)
    for stale in refs_dir.iterdir():
        if stale.is_file() and stale.name not in names:
            stale.unlink()
    write_card(root, name=name, kind=kind, references=[f"{REFERENCES}/{n}" for n in names], base=base,
               language=language, extra=extra)
    return root


def make_voice_from_bank(
    bank_path: PathLike,
    voice_dir: PathLike | None = None,
    *,
    n_refs: int = 4,
    base: PathLike | None = None,
    language: str = "en",
) -> Path:
    """Pick the ``n_refs`` best chosen takes of a bank and write a zero-shot voice folder.

    Best: not rejected, not failed by QC, QC "pass" before "warn"; 4–12 s long before
    others, longer first (up to 10 s); each trimmed to its speech (plus 0.15 s) when the
    speech detector finds some.
    """
    from ..bank.store import Bank

    if n_refs < 1:
        raise UsageError("n_refs must be at least 1.")
    with Bank.open(bank_path, writable=False) as bank:
        takes = [bank.chosen_take(pid) for pid in bank.prompts]
        usable = [t for t in takes if t is not None and t.status != "rejected" and t.qc_verdict != "fail"
                  and t.duration >= 1.0]
        if not usable:
            raise EngineError(
                f"The bank {bank.root} has no usable chosen takes to clone the voice from: record or "
                "choose a few takes first (each at least 1 s, not rejected, not failed by QC)."
            )
        picked = select_references([(t.id, t.duration, t.qc_verdict) for t in usable], n_refs)
        by_id = {t.id: t for t in usable}
        clips = []
        for tid in picked:
            samples, rate = bank.read_take(by_id[tid])
            clips.append((tid, trim_to_speech(to_mono(samples), rate), rate))
        speaker = str(bank.meta.get("speaker") or "").strip()
        name = f"{speaker or bank.root.name}-xtts"
        folder = Path(voice_dir) if voice_dir is not None else voices_dir() / _safe_name(name)
        write_voice(folder, clips, name=name, kind="zero-shot", base=base, language=language,
                    extra={"source": {"bank": str(Path(bank.root).resolve()), "takes": picked}})
    return folder


def select_references(candidates: Sequence[tuple[str, float, str]], n: int) -> list[str]:
    """Ids of the ``n`` best ``(id, seconds, qc_verdict)`` candidates (see make_voice_from_bank)."""
    rank = {"pass": 0, "warn": 1}

    def score(c: tuple[str, float, str]) -> tuple[int, int, float, str]:
        cid, seconds, verdict = c
        return (rank.get(verdict, 2), 0 if 4.0 <= seconds <= 12.0 else 1, -min(seconds, 10.0), cid)

    return [c[0] for c in sorted(candidates, key=score)[:n]]


def trim_to_speech(samples: np.ndarray, rate: int, margin_s: float = 0.15) -> np.ndarray:
    """The clip cut to its detected speech plus a margin (unchanged when nothing is detected)."""
    try:
        from ..bank.vad import speech_segments

        segs = speech_segments(samples, rate)
    except Exception:  # the detector is an optional nicety here; untrimmed clips still work
        return samples
    if not segs:
        return samples
    a = max(0, int((segs[0][0] - margin_s) * rate))
    b = min(samples.shape[0], int((segs[-1][1] + margin_s) * rate))
    return samples[a:b] if b - a >= rate // 2 else samples


def _safe_name(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in name).strip("-.") or "xtts-voice"
