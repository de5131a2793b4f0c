"""``voicebank bench verifier``: calibrate the speaker verifiers on real speech found offline.

Real recordings of several people are embedded with ECAPA-TDNN
(:class:`voicebank.train.speaker_verify.EcapaVerifier`) and with Resemblyzer
(:class:`voicebank.train.metrics.SpeakerEncoder`). Every pair of recordings of one person is
a same-speaker trial and every pair of two people's recordings a different-speaker trial
("utterance" pairs); each recording is also scored against the mean embedding of the other
recordings of each speaker ("to_mean", the way ``train eval`` scores a voice). For each
encoder and kind of trial the report gives the score ranges, the equal error rate and its
threshold (empirical, and from normal fits of the two score distributions, which still
places a threshold when the samples do not overlap), and optionally the same trials after
lossy channels (Opus 12 kbit/s, MP3 32 kbit/s, an 8 kHz telephone band, through ffmpeg).

The speakers are whatever real speech this machine holds (:func:`offline_speakers`): the
LJSpeech sample (a US woman), Debian's pocketsphinx-testdata (three men), and the Asterisk
prompts speaker (a US woman) when ``VOICEBANK_ASTERISK_DATA`` names the folder that
``scripts/asterisk_dataset.py`` writes. Results are in docs/speaker-verification.md.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
LJSPEECH = REPO.parent / "shared" / "data" / "ljspeech-sample"
POCKETSPHINX = Path("/usr/share/pocketsphinx/test/data")
ASTERISK_ENV = "VOICEBANK_ASTERISK_DATA"
MIN_SECONDS = 1.0  # shorter clips (single-word prompts) say little about a voice

# name: ffmpeg arguments that encode the channel; every channel is decoded back to 16 kHz.
CHANNELS: dict[str, tuple[str, ...]] = {
    "opus_12k": ("-c:a", "libopus", "-b:a", "12k", "-f", "ogg"),
    "mp3_32k": ("-c:a", "libmp3lame", "-b:a", "32k", "-f", "mp3"),
    "phone_8k": ("-af", "highpass=f=300,lowpass=f=3400", "-ar", "8000", "-c:a", "pcm_mulaw", "-f", "wav"),
}


# ------------------------------------------------------------------------ real speech


@dataclass(frozen=True)
class Clip:
    """One real recording; ``raw_rate`` marks headerless 16-bit PCM (pocketsphinx ``.raw``)."""

    path: Path
    text: str = ""
    raw_rate: int | None = None

    def load(self) -> tuple[np.ndarray, int]:
        """Mono float32 samples and their rate."""
        if self.raw_rate:
            return np.fromfile(self.path, dtype="<i2").astype(np.float32) / 32768.0, self.raw_rate
        import soundfile as sf

        from voicebank.audio import to_mono

        x, rate = sf.read(str(self.path), dtype="float32")
        return to_mono(x), int(rate)

    def seconds(self) -> float:
        if self.raw_rate:
            return self.path.stat().st_size / 2 / self.raw_rate
        import soundfile as sf

        return float(sf.info(str(self.path)).duration)


@dataclass(frozen=True)
class Speaker:
    """One person's real recordings, with what is known about them."""

    name: str
    sex: str  # "female" / "male"
    source: str
    clips: tuple[Clip, ...] = field(default=())
    note: str = ""


def _metadata_texts(path: Path) -> dict[str, str]:
    """``id|text[|normalised]`` rows (LJSpeech layout) as {id: text}."""
    if not path.is_file():
        return {}
    with open(path, encoding="utf-8", newline="") as fh:
        return {r[0]: r[-1] for r in csv.reader(fh, delimiter="|", quoting=csv.QUOTE_NONE) if len(r) >= 2}


def _folder_speaker(name: str, sex: str, source: str, folder: Path | None) -> Speaker | None:
    """A speaker from an LJSpeech-layout folder (``wavs/*.wav`` + ``metadata.csv``), if present."""
    if folder is None or not (folder / "wavs").is_dir():
        return None
    texts = _metadata_texts(folder / "metadata.csv")
    clips = tuple(Clip(p, texts.get(p.stem, "")) for p in sorted((folder / "wavs").glob("*.wav")))
    return Speaker(name, sex, source, clips) if clips else None


def _librivox() -> Speaker | None:
    folder = POCKETSPHINX / "librivox"
    texts: dict[str, str] = {}
    if (folder / "transcription").is_file():
        for line in (folder / "transcription").read_text(encoding="utf-8").splitlines():
            words, _, uid = line.rpartition("(")
            texts[uid.strip(") ")] = words.replace("<s>", "").replace("</s>", "").strip()
    clips = tuple(Clip(p, texts.get(p.stem, "")) for p in sorted(folder.glob("*.wav")))
    return Speaker("librivox-man", "male", "Debian pocketsphinx-testdata: librivox/ (a LibriVox reader)", clips) if clips else None


def _pocketsphinx_others() -> list[Speaker]:
    """Two more men in pocketsphinx-testdata; that each set is one person is assumed, not documented."""
    out = []
    cards = tuple(Clip(p) for p in sorted((POCKETSPHINX / "cards").glob("*.wav")))
    if cards:
        out.append(Speaker("cards-man", "male", "Debian pocketsphinx-testdata: cards/*.wav",
                           cards, "one speaker assumed (same recording session; median F0 about 105 Hz)"))
    names = ("goforward.raw", "numbers.raw", "something.raw", "tidigits/dhd.2934z.raw")
    raws = tuple(Clip(POCKETSPHINX / n, raw_rate=16000) for n in names if (POCKETSPHINX / n).is_file())
    if raws:
        out.append(Speaker("pocketsphinx-man", "male", "Debian pocketsphinx-testdata: goforward/numbers/something.raw, tidigits/dhd.2934z.raw",
                           raws, "one speaker assumed (named dhd in tidigits/; median F0 about 100-130 Hz)"))
    return out


def offline_speakers(*, asterisk: Path | None = None, ljspeech: Path = LJSPEECH) -> list[Speaker]:
    """Every real speaker found on this machine (absent sources are left out)."""
    from voicebank.voice.packaged_weights import env_path

    asterisk = asterisk if asterisk is not None else env_path(ASTERISK_ENV)
    found = [
        _folder_speaker("ljspeech", "female", "LJSpeech 1.1 sample (Linda Johnson, US; public domain)", ljspeech),
        _librivox(),
        *_pocketsphinx_others(),
        _folder_speaker("asterisk", "female", "Asterisk core sounds, en (Allison Smith, US; CC-BY-SA-3.0)", asterisk),
    ]
    return [s for s in found if s is not None]


def pick_clips(speaker: Speaker, limit: int, min_seconds: float = MIN_SECONDS) -> list[Clip]:
    """Up to ``limit`` clips of at least ``min_seconds``, longest first among the eligible ones, in name order."""
    timed = [(c.seconds(), c) for c in speaker.clips]
    long_enough = [(s, c) for s, c in timed if s >= min_seconds]
    chosen = sorted(long_enough, key=lambda sc: -sc[0])[:limit]
    return sorted((c for _, c in chosen), key=lambda c: str(c.path))


# --------------------------------------------------------------------------- scoring


def _stats(scores: Sequence[float]) -> dict[str, Any]:
    a = np.asarray(scores, dtype=np.float64)
    if a.size == 0:
        return {"n": 0}
    return {"n": int(a.size), "min": _r(a.min()), "p05": _r(np.percentile(a, 5)), "mean": _r(a.mean()),
            "p95": _r(np.percentile(a, 95)), "max": _r(a.max())}


def _r(v: float) -> float:
    return round(float(v), 4)


def equal_error(same: Sequence[float], different: Sequence[float]) -> dict[str, Any]:
    """Empirical EER and threshold, and the EER/threshold of normal fits to the two score sets.

    Empirically a threshold ``t`` accepts scores ``>= t``; the EER is where the miss rate
    (same below ``t``) meets the false-accept rate (different at or above ``t``). When the sets
    do not overlap the EER is 0 and any ``t`` in the gap will do: the midpoint is reported,
    with the gap. The normal fit puts ``t`` where both fitted error rates are equal,
    ``t = (mu_d*sd_s + mu_s*sd_d) / (sd_s + sd_d)``, with EER ``Phi(-(mu_s-mu_d)/(sd_s+sd_d))``.
    """
    s, d = np.sort(np.asarray(same, float)), np.sort(np.asarray(different, float))
    out: dict[str, Any] = {}
    if s.size and d.size:
        if s[0] > d[-1]:
            out.update(eer=0.0, threshold=_r((s[0] + d[-1]) / 2), gap=[_r(d[-1]), _r(s[0])])
        else:
            cands = np.unique(np.concatenate([s, d]))
            miss = np.searchsorted(s, cands, side="left") / s.size
            fa = 1.0 - np.searchsorted(d, cands, side="left") / d.size
            i = int(np.argmin(np.abs(miss - fa)))
            out.update(eer=_r((miss[i] + fa[i]) / 2), threshold=_r(cands[i]), gap=None)
        sd_s, sd_d = float(s.std(ddof=1)) if s.size > 1 else 0.0, float(d.std(ddof=1)) if d.size > 1 else 0.0
        spread = sd_s + sd_d
        if spread > 0:
            t = (d.mean() * sd_s + s.mean() * sd_d) / spread
            z = (s.mean() - d.mean()) / spread
            out["normal_fit"] = {"eer": float(f"{0.5 * math.erfc(z / math.sqrt(2)):.3g}"), "threshold": _r(t)}
    return out


def _trials(emb: dict[str, list[np.ndarray]], sexes: dict[str, str]) -> dict[str, dict[str, list[float]]]:
    """Scores of utterance pairs and of utterance-to-speaker-mean trials, split same / different."""
    from voicebank.train.speaker_verify import cosine, mean_unit

    utt: dict[str, list[float]] = {"same": [], "different": [], "different_same_sex": []}
    to_mean: dict[str, list[float]] = {"same": [], "different": [], "different_same_sex": []}
    names = list(emb)
    for name in names:
        utt["same"] += [cosine(a, b) for a, b in itertools.combinations(emb[name], 2)]
        for i, e in enumerate(emb[name]):
            rest = emb[name][:i] + emb[name][i + 1:]
            if rest:
                to_mean["same"].append(cosine(e, mean_unit(rest)))
            for other in names:
                if other != name:
                    score = cosine(e, mean_unit(emb[other]))
                    to_mean["different"].append(score)
                    if sexes[other] == sexes[name]:
                        to_mean["different_same_sex"].append(score)
    for a, b in itertools.combinations(names, 2):
        scores = [cosine(x, y) for x in emb[a] for y in emb[b]]
        utt["different"] += scores
        if sexes[a] == sexes[b]:
            utt["different_same_sex"] += scores
    return {"utterance": utt, "to_mean": to_mean}


def _summarise(trials: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    out = {}
    for kind, t in trials.items():
        out[kind] = {k: _stats(v) for k, v in t.items()}
        out[kind]["equal_error"] = equal_error(t["same"], t["different"])
        out[kind]["equal_error_same_sex"] = equal_error(t["same"], t["different_same_sex"])
    return out


def _speaker_matrix(emb: dict[str, list[np.ndarray]]) -> dict[str, float]:
    """Mean utterance-pair score for each pair of speakers (the diagonal: same speaker)."""
    from voicebank.train.speaker_verify import cosine

    out = {}
    for a, b in itertools.combinations_with_replacement(list(emb), 2):
        pairs = itertools.combinations(emb[a], 2) if a == b else itertools.product(emb[a], emb[b])
        scores = [cosine(x, y) for x, y in pairs]
        if scores:
            out[f"{a}|{b}"] = _r(np.mean(scores))
    return out


# -------------------------------------------------------------------------- channels


def through_channel(samples: np.ndarray, rate: int, channel: str) -> np.ndarray:
    """The recording after a lossy channel (ffmpeg), decoded back to mono float32 at 16 kHz."""
    from voicebank.audio import to_int16

    enc = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "s16le", "-ar", str(rate), "-ac", "1", "-i", "pipe:0",
         *CHANNELS[channel], "pipe:1"],
        input=to_int16(samples).tobytes(), capture_output=True, check=True,
    ).stdout
    dec = subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-i", "pipe:0", "-f", "f32le", "-ac", "1", "-ar", "16000", "pipe:1"],
        input=enc, capture_output=True, check=True,
    ).stdout
    return np.frombuffer(dec, dtype="<f4").copy()


def _channel_trials(embed: Callable[[np.ndarray, int], np.ndarray], audio: dict[str, list[tuple[np.ndarray, int]]],
                    clean: dict[str, list[np.ndarray]], channel: str) -> dict[str, Any]:
    """Each coded clip against the clean mean of its speaker's other clips, and of every other speaker."""
    from voicebank.train.speaker_verify import cosine, mean_unit

    same, diff = [], []
    for name, clips in audio.items():
        for i, (x, rate) in enumerate(clips):
            coded = embed(through_channel(x, rate, channel), 16000)
            rest = clean[name][:i] + clean[name][i + 1:]
            if rest:
                same.append(cosine(coded, mean_unit(rest)))
            diff += [cosine(coded, mean_unit(clean[o])) for o in audio if o != name]
    return {"same": _stats(same), "different": _stats(diff)}


# ------------------------------------------------------------------------------ run


def _encoders(names: Sequence[str], threads: int | None) -> dict[str, Callable[[np.ndarray, int], np.ndarray]]:
    out: dict[str, Callable[[np.ndarray, int], np.ndarray]] = {}
    for name in names:
        if name == "ecapa":
            from voicebank.train.speaker_verify import EcapaVerifier

            out[name] = EcapaVerifier(threads=threads).embed
        elif name == "resemblyzer":
            from voicebank.train.metrics import SpeakerEncoder

            out[name] = _resemblyzer_embed(SpeakerEncoder())
        else:
            raise SystemExit(f"bench verifier: unknown encoder {name!r} (choose from ecapa, resemblyzer)")
    return out


def _resemblyzer_embed(encoder: Any) -> Callable[[np.ndarray, int], np.ndarray]:
    def embed(x: np.ndarray, rate: int) -> np.ndarray:
        e = encoder.embed(x, rate)
        if e is None:  # under 0.2 s of speech after its trimming; clips here last 1 s or more
            raise SystemExit("bench verifier: Resemblyzer found too little speech in a clip")
        return np.asarray(e, dtype=np.float32)

    return embed


def run_verifier(speakers: Sequence[Speaker], *, per_speaker: int = 10, encoders: Sequence[str] = ("ecapa", "resemblyzer"),
                 channels: Sequence[str] = tuple(CHANNELS), channel_clips: int = 4, threads: int | None = None,
                 max_seconds: float | None = None, progress: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    """Embed each speaker's clips with each encoder and score every trial (see the module docstring)."""
    start = time.perf_counter()
    chosen = {s.name: pick_clips(s, per_speaker) for s in speakers}
    chosen = {k: v for k, v in chosen.items() if len(v) >= 2}
    if len(chosen) < 2:
        raise SystemExit("bench verifier: need at least two speakers with two clips each; found "
                         f"{sorted(chosen) or 'none'} (is ../shared/data/ljspeech-sample there?)")
    audio = {name: [_crop(c.load(), max_seconds) for c in clips] for name, clips in chosen.items()}
    sexes = {s.name: s.sex for s in speakers}
    report: dict[str, Any] = {"speakers": [_speaker_row(s, chosen[s.name], audio[s.name]) for s in speakers if s.name in chosen]}
    report["encoders"] = {}
    for name, embed in _encoders(encoders, threads).items():
        t0 = time.perf_counter()
        emb = {}
        for spk, clips in audio.items():
            progress(f"{name}: embedding {len(clips)} clips of {spk}")
            emb[spk] = [embed(x, rate) for x, rate in clips]
        seconds = sum(len(x) / rate for clips in audio.values() for x, rate in clips)
        entry = {**_summarise(_trials(emb, sexes)), "speaker_means": _speaker_matrix(emb),
                 "embed_s_per_audio_s": _r((time.perf_counter() - t0) / seconds)}
        entry["channels"] = {}
        for ch in channels:
            progress(f"{name}: {ch}")
            sub = {spk: clips[:channel_clips] for spk, clips in audio.items()}
            entry["channels"][ch] = _channel_trials(embed, sub, {spk: emb[spk][:channel_clips] for spk in sub}, ch)
        report["encoders"][name] = entry
    from voicebank.train.speaker_verify import ECAPA_THRESHOLD, ECAPA_THRESHOLD_TO_MEAN

    report["ecapa_thresholds_in_code"] = {"utterance": ECAPA_THRESHOLD, "to_mean": ECAPA_THRESHOLD_TO_MEAN}
    report["wall_s"] = round(time.perf_counter() - start, 1)
    report["machine"] = {"cpus": os.cpu_count(), "platform": platform.platform(), "threads": threads,
                         "load_avg": [round(v, 1) for v in os.getloadavg()]}  # times mean little on a busy machine
    return report


def _crop(clip: tuple[np.ndarray, int], max_seconds: float | None) -> tuple[np.ndarray, int]:
    x, rate = clip
    return (x[: int(max_seconds * rate)], rate) if max_seconds else (x, rate)


def _speaker_row(s: Speaker, clips: Sequence[Clip], audio: Sequence[tuple[np.ndarray, int]]) -> dict[str, Any]:
    return {"name": s.name, "sex": s.sex, "source": s.source, "note": s.note, "clips": len(clips),
            "seconds": round(sum(len(x) / r for x, r in audio), 1), "files": [c.path.name for c in clips]}


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="voicebank bench verifier",
        description="Calibrate the speaker verifiers (ECAPA-TDNN, Resemblyzer) on real same- and different-speaker "
                    "recordings found on this machine: score ranges, equal error rate and its threshold, lossy channels.",
        epilog=f"Speakers: the LJSpeech sample ({LJSPEECH}), Debian pocketsphinx-testdata ({POCKETSPHINX}), and the "
               f"Asterisk prompts speaker when ${ASTERISK_ENV} (or --asterisk) names the folder scripts/asterisk_dataset.py "
               "made. Results and caveats: docs/speaker-verification.md.",
    )
    p.add_argument("--per-speaker", type=int, default=10, help="clips per speaker, the longest ones of at least 1 s (default 10)")
    p.add_argument("--encoders", default="ecapa,resemblyzer", help="comma-separated: ecapa, resemblyzer (default both)")
    p.add_argument("--channels", default=",".join(CHANNELS), help=f"lossy channels to test, comma-separated, or 'none' (default {','.join(CHANNELS)})")
    p.add_argument("--channel-clips", type=int, default=4, help="clips per speaker sent through each channel (default 4)")
    p.add_argument("--max-seconds", type=float, default=None, help="cut each clip to this length (quick runs; default: whole clips)")
    p.add_argument("--speakers", default="", help="only these speakers, comma-separated (default: all found)")
    p.add_argument("--asterisk", type=Path, default=None, help=f"the Asterisk dataset folder (default ${ASTERISK_ENV})")
    p.add_argument("--threads", type=int, default=None, help="torch threads for ECAPA (default: torch's own choice)")
    p.add_argument("--json", action="store_true", help="print only the JSON report (default: progress on stderr, then JSON)")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    speakers = offline_speakers(asterisk=args.asterisk)
    if args.speakers:
        wanted = {s.strip() for s in args.speakers.split(",") if s.strip()}
        speakers = [s for s in speakers if s.name in wanted]
    channels = [] if args.channels.strip() in ("", "none") else [c.strip() for c in args.channels.split(",")]
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        raise SystemExit(f"bench verifier: unknown channel(s) {unknown}; choose from {', '.join(CHANNELS)} or 'none'")
    if channels and shutil.which("ffmpeg") is None:
        raise SystemExit("bench verifier: the lossy channels need ffmpeg (apt install ffmpeg), or pass --channels none")
    quiet = args.json
    res = run_verifier(speakers, per_speaker=args.per_speaker, encoders=[e.strip() for e in args.encoders.split(",") if e.strip()],
                       channels=channels, channel_clips=args.channel_clips, threads=args.threads,
                       max_seconds=args.max_seconds, progress=(lambda _m: None) if quiet else (lambda m: print(m, file=sys.stderr, flush=True)))
    print(json.dumps(res, indent=2))
    return 0
