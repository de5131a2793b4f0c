"""``voicebank bench consent``: calibrate the consent take's checks on real speech found offline.

**Speaker**: every real speaker on this machine (:func:`voicebank.benchmarks.verifier.offline_speakers`:
the LJSpeech sample, Debian pocketsphinx-testdata's men, the Asterisk speaker when
``VOICEBANK_ASTERISK_DATA`` or ``--asterisk`` names its folder) plus the stock voice ``joe``
reading LJSpeech sentences (a synthetic man). Each clip plays the consent take and is scored
the way :func:`voicebank.provenance.consent_check.check_speaker` scores it: Resemblyzer cosine
to the mean embedding of a "bank" — the same speaker's other clips (same-speaker trials, with
the whole bank and with only ``MIN_BANK_TAKES`` clips) or all clips of another speaker
(different-speaker trials). The report gives the score ranges, the equal error rate and its
threshold, and the miss / false-accept rates of the threshold in the code.

**Code words**: each transcribed clip (LJSpeech, LibriVox) stands for a statement, with its three
longest dictionary words as the code phrase. Genuine: the clip itself; another sentence: the next
clip (the code words it does not say); replay: the clip against a statement whose code phrase is
three random code-list words it does not say (an old recording offered again). The report gives how
often all code words were heard, and how often the check passes. Results: docs/consent.md.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .verifier import Speaker, _stats, equal_error, offline_speakers, pick_clips

STOP_WORDS = frozenset(
    "the a an and of in to is was be that with which for as at by on it this from or not but are were have has had "
    "his her their they them he she we you our than then there these those what when where who will would should "
    "could might must very more most such also into only other some any all each been being".split()
)


def _speaker_audio(speakers: Sequence[Speaker], per_speaker: int) -> dict[str, list[tuple[np.ndarray, int]]]:
    chosen = {s.name: pick_clips(s, per_speaker) for s in speakers}
    return {name: [c.load() for c in clips] for name, clips in chosen.items() if len(clips) >= 3}


def _joe_audio(texts: Sequence[str]) -> list[tuple[np.ndarray, int]]:
    """The stock voice reading ``texts`` (a synthetic speaker)."""
    from voicebank.engines import load_engine

    engine = load_engine("joe")
    out = []
    for text in texts:
        chunk = engine.synthesize(text)
        out.append((chunk.as_float32(), chunk.sample_rate))
    return out


def speaker_trials(audio: dict[str, list[tuple[np.ndarray, int]]], small_bank: int,
                   progress: Callable[[str], None]) -> dict[str, Any]:
    """Same / different-speaker scores of each clip against bank means (see the module docstring)."""
    from voicebank.provenance.consent_check import SPEAKER_THRESHOLD
    from voicebank.train.metrics import SpeakerEncoder, cosine, mean_embedding

    enc = SpeakerEncoder()
    emb: dict[str, list[np.ndarray]] = {}
    for name, clips in audio.items():
        progress(f"speaker: embedding {len(clips)} clips of {name}")
        emb[name] = [e for e in (enc.embed(x, r) for x, r in clips) if e is not None]
    same: list[float] = []
    same_small: list[float] = []
    different: list[float] = []
    pairs: dict[str, dict[str, Any]] = {}
    for name, es in emb.items():
        for i, e in enumerate(es):
            rest = es[:i] + es[i + 1:]
            same.append(float(cosine(e, mean_embedding(rest))))
            same_small.append(float(cosine(e, mean_embedding(rest[:small_bank]))))
        for other, os_ in emb.items():
            if other != name:
                scores = [float(cosine(e, mean_embedding(os_))) for e in es]
                different += scores
                pairs[f"{name} take -> {other} bank"] = _stats(scores)
    t = SPEAKER_THRESHOLD
    return {
        "clips": {k: len(v) for k, v in emb.items()},
        "same": _stats(same), "same_small_bank": _stats(same_small), "different": _stats(different),
        "pairs": pairs,
        "equal_error": equal_error(same, different),
        "equal_error_small_bank": equal_error(same_small, different),
        "threshold_in_code": t,
        "at_threshold": {"miss": _rate([s < t for s in same]), "miss_small_bank": _rate([s < t for s in same_small]),
                         "false_accept": _rate([d >= t for d in different])},
    }


def _rate(flags: Sequence[bool]) -> float:
    return round(sum(flags) / len(flags), 4) if flags else 0.0


def code_word_trials(speakers: Sequence[Speaker], progress: Callable[[str], None], seed: int = 7) -> dict[str, Any]:
    """Genuine, other-sentence and replay trials of the code-word check (see the module docstring)."""
    from voicebank.provenance.consent import CODE_WORDS, Statement
    from voicebank.provenance.consent_check import check_code_words

    clips = [c for s in speakers if s.name in ("ljspeech", "librivox-man") for c in s.clips if c.text]
    rng = random.Random(seed)
    runs: dict[str, list[dict[str, Any]]] = {"genuine": [], "other_sentence": [], "replay": []}
    for i, clip in enumerate(clips):
        progress(f"code words: {clip.path.name} ({i + 1}/{len(clips)})")
        x, rate = clip.load()
        words = _code_words_of(clip.text)
        if len(words) < 3:
            continue
        other = clips[(i + 1) % len(clips)]
        unsaid = [w for w in words if w not in set(_words(other.text))]
        runs["genuine"].append(check_code_words(x, rate, _statement(Statement, clip.text, words)))
        if unsaid:
            ox, orate = other.load()
            runs["other_sentence"].append(check_code_words(ox, orate, _statement(Statement, clip.text, unsaid)))
        fresh = rng.sample([w for w in CODE_WORDS if w not in set(_words(clip.text))], 3)
        runs["replay"].append(check_code_words(x, rate, _statement(Statement, clip.text + " " + " ".join(fresh), fresh)))
    return {kind: _summary(results) for kind, results in runs.items()}


def _statement(cls: Any, text: str, words: Sequence[str]) -> Any:
    return cls(text=text, code_words=tuple(words), speaker="bench", date="2026-01-01")


def _words(text: str) -> list[str]:
    from voicebank.train.metrics import wer_words

    return wer_words(text)


def _code_words_of(text: str) -> list[str]:
    """The three longest words of ``text`` that the dictionary knows and that are not function words."""
    from voicebank.provenance.consent_check import in_dictionary

    words = sorted({w for w in _words(text) if len(w) >= 5 and w not in STOP_WORDS}, key=lambda w: (-len(w), w))
    return [w for w in words if in_dictionary(w)][:3]


def _summary(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    n = len(results)
    return {"n": n, "all_heard": _rate([not r["missing"] for r in results]),
            "passed": _rate([r["status"] == "pass" for r in results]),
            "words_heard": round(sum(len(r["found"]) for r in results) / max(1, sum(len(r["found"]) + len(r["missing"]) for r in results)), 4)}


def run(args: argparse.Namespace, progress: Callable[[str], None]) -> dict[str, Any]:
    start = time.perf_counter()
    speakers = offline_speakers(asterisk=args.asterisk)
    audio = _speaker_audio(speakers, args.per_speaker)
    if "ljspeech" not in audio:
        raise SystemExit("bench consent: the LJSpeech sample (../shared/data/ljspeech-sample) is needed")
    if args.joe:
        texts = [c.text for c in speakers[0].clips[: args.joe]]
        progress(f"speaker: the stock voice reads {len(texts)} sentences")
        audio["joe-synthetic"] = _joe_audio(texts)
    from voicebank.provenance.consent_check import MIN_BANK_TAKES

    report: dict[str, Any] = {
        "speakers": [{"name": s.name, "sex": s.sex, "source": s.source} for s in speakers if s.name in audio]
        + ([{"name": "joe-synthetic", "sex": "male", "source": "the stock voice joe reading LJSpeech sentences"}]
           if args.joe else []),
        "speaker": speaker_trials(audio, MIN_BANK_TAKES, progress),
    }
    if not args.no_code_words:
        report["code_words"] = code_word_trials(speakers, progress)
    report["wall_s"] = round(time.perf_counter() - start, 1)
    return report


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="voicebank bench consent",
        description="Calibrate the consent take's checks on real speech found on this machine: the speaker "
                    "threshold (Resemblyzer, a take against a bank's mean) and the code-word check (PocketSphinx).",
        epilog="Results and how they set the thresholds: docs/consent.md.",
    )
    p.add_argument("--per-speaker", type=int, default=20, help="clips per speaker, the longest of at least 1 s (default 20)")
    p.add_argument("--joe", type=int, default=12, help="sentences the stock voice reads as a synthetic speaker (0: none; default 12)")
    p.add_argument("--asterisk", type=Path, default=None, help="the Asterisk dataset folder (default $VOICEBANK_ASTERISK_DATA)")
    p.add_argument("--no-code-words", action="store_true", help="skip the code-word trials (speaker only)")
    p.add_argument("--json", action="store_true", help="print only the JSON report (default: progress on stderr, then JSON)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quiet = args.json
    report = run(args, (lambda _m: None) if quiet else (lambda m: print(m, file=sys.stderr, flush=True)))
    print(json.dumps(report, indent=2))
    return 0


__all__ = ["main"]
