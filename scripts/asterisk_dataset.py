"""Build a speech dataset of one real speaker from Debian's Asterisk prompts (never committed).

Run from the repository root with the project's venv::

    .venv/bin/python scripts/asterisk_dataset.py build OUT [--debs DIR]
    .venv/bin/python scripts/asterisk_dataset.py subsets FULL DIR [--subsets 3,8,15] [--held-out 20]

``build`` gets Debian's ``asterisk-core-sounds-en-g722`` and ``asterisk-core-sounds-en``
(version 1.6.1-1, pinned with their sha256) with ``apt-get download`` into a temporary folder
(or takes them from ``--debs DIR``), unpacks them with ``dpkg-deb -x`` (nothing is installed),
decodes every ``.g722`` prompt with ffmpeg and writes an LJSpeech-layout folder::

    OUT/wavs/<id>.wav     16-bit mono at 16 kHz, as recorded (training resamples to the model's rate)
    OUT/metadata.csv      id|text|normalized text
    OUT/LICENSE.txt       source, licence (CC-BY-SA-3.0) and attribution (Allison Smith)
    OUT/manifest.json     minutes, counts, every prompt kept or skipped and why

The speaker is Allison Smith (US English, female), recorded for Asterisk; G.722 is wideband
speech at 16 kHz, 64 kbit/s. A prompt is kept only when it is speech of words with a transcript:
tones, beeps and silences are skipped, as are transcripts that carry a note instead of words,
recordings the speech detector finds no speech in, and takes longer than a bank accepts.

``subsets`` picks from a built folder a fixed held-out set of whole sentences first, then nested
training subsets of N minutes of speech from the rest (3 in 8 in 15), each an LJSpeech folder
that ``voicebank bank import-audio`` takes, holding its training prompts AND the held-out ones,
with the held-out ids in ``heldout.txt`` for ``voicebank train prepare --eval-ids``. Minutes are
counted the way ``train prepare`` counts them: detected speech plus its 0.15 s margins.
Both commands are deterministic and idempotent: a finished folder is left as it is.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import uuid
import wave
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np

from voicebank.durable import atomic_write_json, move, read_json_dict
from voicebank.errors import CorruptFileError, DatasetError, UsageError, VoicebankError

VERSION = "1.6.1-1"
SOUNDS = "asterisk-core-sounds-en-g722"
TEXTS = "asterisk-core-sounds-en"
SHA256 = {  # observed 2026-12-05 on deb.debian.org (bookworm), equal to the Packages index
    SOUNDS: "38c5261820b406dcb0ecb37675720da2b0864850690690352ca52707eb623806",
    TEXTS: "973e797d28e37fa6ca3c0a9d6fa717e77cf1268ae916bf09fd3503113cdffa50",
}
SOUND_DIR = "usr/share/asterisk/sounds/en_US_f_Allison"
TRANSCRIPTS = "usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz"
COPYRIGHT = f"usr/share/doc/{SOUNDS}/copyright"
RATE = 16000  # G.722 is sampled at 16 kHz and coded at 64 kbit/s: 2 samples per byte
MARGIN_S = 0.15  # as voicebank train prepare: silence kept around the detected speech
MAX_TAKE_S = 30.0  # a bank refuses longer single takes (QCThresholds.max_take_s)
FORMAT = "voicebank-asterisk-dataset"
SCHEMA_VERSION = 2  # 2: transcripts corrected where they differ from the audio
# Spoken forms of the keypad symbols; checked by ear with Whisper: "press * ..." is read "press star".
SPOKEN_SYMBOLS = {"*": " star ", "#": " pound "}
TYPOS = {"umute": "unmute", "represenatives": "representatives", "witheld": "withheld", "Un-indentified": "Unidentified"}
# Upstream transcripts whose words differ from what is said: Whisper base and tiny.en both hear
# the same other words (docs/learning-curve-data.md lists the check).
FIXES = {
    "letters/exclaimation-point": "exclamation point",
    "invalid": "I'm sorry, that is not a valid extension. Please try again.",
    "pbx-invalid": "I am sorry, but that's not a valid extension. Please try again.",
    "pbx-invalidpark": "I am sorry, but there is no call parked on that extension. Please try again.",
    "privacy-unident": "The party you're trying to reach does not accept unidentified calls.",
    "followme/pls-hold-while-try": "please hold while I try to locate the person you're calling",
    "followme/sorry": "I'm sorry, but I was unable to locate the person you're calling",
    "dir-instr": "If this is the person you're looking for press one now, otherwise please press star now.",
    "demo-nogo": "I'm afraid I was unable to create a connection to the Digium demonstration Asterisk server. "
    "You may find some helpful debugging information on the Asterisk console.",
    "vm-mismatch": "The password you entered and re-entered did not match. Please try again.",
}


@dataclass
class Clip:
    """One prompt of the set: kept (with its text and minutes) or skipped (with the reason)."""

    id: str
    name: str  # the prompt's upstream name, e.g. digits/1
    raw: str  # the upstream transcript line
    text: str = ""
    normalized: str = ""
    seconds: float = 0.0  # the whole recording
    speech_seconds: float = 0.0  # detected speech + margins, as train prepare trims it
    words: int = 0
    skipped: str = ""  # why it is not in the dataset ("" when kept)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- getting the .debs


def deb_name(package: str) -> str:
    return f"{package}_{VERSION}_all.deb"


def fetch_debs(dest: Path, debs_dir: Path | None) -> dict[str, Path]:
    """The two pinned .debs: from ``debs_dir``, else downloaded by ``apt-get download`` into ``dest``."""
    if debs_dir is not None:
        found = {p: debs_dir / deb_name(p) for p in SHA256}
        missing = [str(f) for f in found.values() if not f.is_file()]
        if missing:
            raise UsageError(f"--debs {debs_dir}: missing {', '.join(missing)} (version {VERSION} is pinned).")
    else:
        _apt_download(dest)
        found = {p: dest / deb_name(p) for p in SHA256}
    for package, path in found.items():
        got = hashlib.sha256(path.read_bytes()).hexdigest()
        if got != SHA256[package]:
            raise CorruptFileError(
                f"{path} has sha256 {got}, not the pinned {SHA256[package]} of {package} {VERSION}: "
                "a different or damaged package. Download it again, or check where it came from."
            )
    return found


def _apt_download(dest: Path) -> None:
    if shutil.which("apt-get") is None:
        raise UsageError(
            "apt-get was not found: this needs Debian or Ubuntu's apt. Elsewhere download "
            f"{deb_name(SOUNDS)} and {deb_name(TEXTS)} from a Debian mirror "
            "(pool/main/a/asterisk-core-sounds/, or snapshot.debian.org) and pass --debs DIR."
        )
    progress(f"Downloading {SOUNDS} and {TEXTS} {VERSION} with apt-get download (nothing is installed)...")
    cmd = ["apt-get", "download", f"{SOUNDS}={VERSION}", f"{TEXTS}={VERSION}"]
    run = subprocess.run(cmd, cwd=dest, capture_output=True, text=True)
    if run.returncode == 0:
        return
    err = (run.stderr or run.stdout).strip()
    if "was not found" in err or "Unable to locate" in err or "Can't select" in err:
        raise DatasetError(
            f"apt cannot offer {SOUNDS} or {TEXTS} at the pinned version {VERSION} ({err.splitlines()[-1]}). "
            "Run 'apt-get update' if the package lists are old; if the version changed, fetch the "
            f"{VERSION} .debs from snapshot.debian.org and pass --debs DIR."
        )
    if "Temporary failure" in err or "Could not resolve" in err or "Failed to fetch" in err:
        raise DatasetError(
            f"apt-get could not reach a Debian mirror ({err.splitlines()[-1]}). Run this with network access, "
            "or copy the two .debs here and pass --debs DIR."
        )
    raise DatasetError(f"{' '.join(cmd)} failed (exit {run.returncode}): {err[-500:]}")


def unpack(debs: dict[str, Path], dest: Path) -> tuple[Path, Path, str]:
    """``dpkg-deb -x`` both into ``dest``: (the sound folder, the transcript file, the copyright text)."""
    if shutil.which("dpkg-deb") is None:
        raise UsageError("dpkg-deb was not found (Debian's dpkg); install dpkg to unpack the .debs.")
    for path in debs.values():
        run = subprocess.run(["dpkg-deb", "-x", str(path), str(dest)], capture_output=True, text=True)
        if run.returncode != 0:
            raise CorruptFileError(f"dpkg-deb could not unpack {path}: {run.stderr.strip()[-300:]}")
    sounds, texts = dest / SOUND_DIR, dest / TRANSCRIPTS
    if not sounds.is_dir() or not texts.is_file():
        raise DatasetError(f"The .debs do not hold {SOUND_DIR} and {TRANSCRIPTS}: the package layout changed.")
    return sounds, texts, (dest / COPYRIGHT).read_text(encoding="utf-8")


def read_transcripts(path: Path) -> dict[str, str]:
    """``name: text`` lines of ``core-sounds-en.txt(.gz)`` (``;`` lines are comments)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        lines = fh.read().splitlines()
    out: dict[str, str] = {}
    for line in lines:
        if not line.strip() or line.startswith(";"):
            continue
        name, sep, text = line.partition(":")
        if not sep:
            raise DatasetError(f"{path}: expected 'name: text', got {line!r}.")
        out[name.strip()] = " ".join(text.split())
    return out


# ------------------------------------------------------------------------- text and audio checks


def clean_text(name: str, raw: str) -> tuple[str, str]:
    """(the words said, "") for a speech prompt, or ("", why it is skipped)."""
    if name.startswith("silence/"):
        return "", "silence"
    if raw in ("", None):
        return "", "no transcript"
    if re.fullmatch(r"\s*[\[<].*[\]>]\s*", raw):
        return "", f"a sound, not speech ({raw})"
    if "(" in raw:
        return "", f"the transcript carries a note instead of only the words said ({raw})"
    text = FIXES.get(name) or re.sub(r"\s*\[[^\]]*\]", "", raw)  # letters/at: "at [@]" -> "at"
    if name.startswith("letters/"):
        text = text.replace("-", " ")
    for typo, word in TYPOS.items():
        text = re.sub(rf"\b{re.escape(typo)}\b", word, text)
    for symbol, spoken in SPOKEN_SYMBOLS.items():
        text = text.replace(symbol, spoken)
    text = " ".join(text.split())
    if not re.search(r"[A-Za-z0-9]", text):
        return "", f"no words in the transcript ({raw})"
    return text, ""


def clip_id(name: str) -> str:
    """The dataset id: the upstream name as a bank prompt id (digits/1 -> digits_1)."""
    from voicebank.bank.records import safe_id

    return safe_id(name)


def decode_all(files: list[Path], wav_dir: Path, names: list[str], batch: int = 48) -> None:
    """Decode G.722 to 16-bit mono 16 kHz WAVs with ffmpeg, many files per ffmpeg run."""
    if shutil.which("ffmpeg") is None:
        raise UsageError("ffmpeg was not found; install it (Debian: apt-get install ffmpeg).")
    for start in range(0, len(files), batch):
        cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y"]
        part = list(zip(files[start : start + batch], names[start : start + batch]))
        for src, _ in part:
            cmd += ["-f", "g722", "-i", str(src)]
        for n, (_, name) in enumerate(part):
            out = wav_dir / f"{clip_id(name)}.wav"
            cmd += ["-map", f"{n}:a", "-ac", "1", "-ar", str(RATE), "-c:a", "pcm_s16le"]
            cmd += ["-map_metadata", "-1", "-fflags", "+bitexact", "-flags:a", "+bitexact", str(out)]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            raise DatasetError(f"ffmpeg could not decode the G.722 prompts: {run.stderr.strip()[-400:]}")
        progress(f"  decoded {min(start + batch, len(files))}/{len(files)}")


def read_wav(path: Path, g722_bytes: int) -> np.ndarray:
    """The decoded samples, after checking the decode: 16 kHz mono 16-bit, 2 samples per G.722 byte."""
    with wave.open(str(path), "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (RATE, 1, 2):
            raise DatasetError(
                f"{path}: decoded as {w.getframerate()} Hz, {w.getnchannels()} channels, "
                f"{8 * w.getsampwidth()} bit; expected 16000 Hz mono 16-bit. Check the ffmpeg build."
            )
        frames = w.getnframes()
        data = w.readframes(frames)
    if abs(frames - 2 * g722_bytes) > 2:
        raise DatasetError(
            f"{path}: {frames} samples from {g722_bytes} bytes of G.722; 64 kbit/s at 16 kHz gives "
            f"{2 * g722_bytes}. The decode is wrong (was it read at another rate?)."
        )
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / 32768.0


def low_band_share(x: np.ndarray) -> float:
    """Share of the energy below 4 kHz: near 1 for speech, near 0.5 for noise from a wrong decode."""
    spec = np.abs(np.fft.rfft(x)) ** 2
    total = float(spec.sum())
    return float(spec[: spec.shape[0] // 2].sum() / total) if total > 0 else 0.0


def measure(clip: Clip, x: np.ndarray, detector: Any) -> None:
    """Fill the clip's durations, and skip it where its audio does not fit its text."""
    from voicebank.bank.vad import speech_segments

    segs = speech_segments(x, RATE, detector=detector)
    if not segs:
        clip.skipped = "the speech detector finds no speech in it"
        return
    clip.speech_seconds = min(clip.seconds, segs[-1][1] + MARGIN_S) - max(0.0, segs[0][0] - MARGIN_S)
    letters = len(re.findall(r"[A-Za-z]", clip.normalized))
    rate = letters / max(clip.speech_seconds - 2 * MARGIN_S, 0.05)  # (a spelled letter says more than it writes)
    if clip.seconds > MAX_TAKE_S:
        clip.skipped = f"too long for one take ({clip.seconds:.0f} s; a bank takes at most {MAX_TAKE_S:.0f} s)"
    elif letters >= 4 and not 2.0 <= rate <= 30.0:  # read speech: about 10-18 letters a second
        clip.skipped = f"its length does not fit its text ({rate:.1f} letters a second of speech)"


# ------------------------------------------------------------------------------------- building


def build(out: Path, debs_dir: Path | None = None, *, force: bool = False) -> dict[str, Any]:
    """Write the full dataset folder at ``out`` (see the module docstring); returns its manifest."""
    if (out / "manifest.json").is_file() and not force:
        manifest = read_json_dict(out / "manifest.json", what="dataset manifest")
        if manifest.get("debs") == SHA256 and manifest.get("schema_version") == SCHEMA_VERSION:
            progress(f"{out} is already built from {SOUNDS} {VERSION}; nothing to do (--force rebuilds it).")
            return manifest
    if out.exists() and any(out.iterdir()) and not (out / "manifest.json").is_file():
        raise UsageError(f"{out} exists and is not a dataset this script wrote; choose a new folder.")
    with tempfile.TemporaryDirectory(prefix="asterisk-") as tmp_name:
        tmp = Path(tmp_name)
        debs = fetch_debs(tmp, debs_dir)
        sounds, texts, copyright_text = unpack(debs, tmp / "root")
        with _building(out) as stage:
            manifest = _write_full(stage, sounds, read_transcripts(texts), copyright_text)
    return manifest


class _building:
    """A folder built beside ``out`` and moved into place only when complete."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.stage = out.parent / f".{out.name}.building-{uuid.uuid4().hex[:8]}"

    def __enter__(self) -> Path:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.stage.mkdir()
        return self.stage

    def __exit__(self, kind: Any, *_: Any) -> None:
        old = self.out.parent / f".{self.out.name}.old-{uuid.uuid4().hex[:8]}"
        try:
            if kind is None:
                if self.out.exists():
                    move(self.out, old)
                move(self.stage, self.out)
        finally:
            shutil.rmtree(self.stage, ignore_errors=True)
            shutil.rmtree(old, ignore_errors=True)


def _write_full(stage: Path, sounds: Path, transcripts: dict[str, str], copyright_text: str) -> dict[str, Any]:
    from voicebank.bank.vad import SpeechDetector
    from voicebank.text import normalize

    files = sorted(sounds.rglob("*.g722"))
    names = [f.relative_to(sounds).with_suffix("").as_posix() for f in files]
    if len({clip_id(n) for n in names}) != len(names):
        raise DatasetError("Two prompts map to the same id; the package layout changed.")
    (stage / "wavs").mkdir()
    progress(f"Decoding {len(files)} G.722 prompts with ffmpeg...")
    decode_all(files, stage / "wavs", names)
    detector = SpeechDetector()
    clips, shares = [], []
    for n, (src, name) in enumerate(zip(files, names), 1):
        clip = Clip(clip_id(name), name, transcripts.get(name, ""))
        clip.text, clip.skipped = clean_text(name, clip.raw)
        wav = stage / "wavs" / f"{clip.id}.wav"
        x = read_wav(wav, src.stat().st_size)
        clip.seconds = x.shape[0] / RATE
        if not clip.skipped:
            clip.normalized = " ".join(normalize(clip.text).split())
            clip.words = len(re.findall(r"[A-Za-z']+", clip.normalized))
            measure(clip, x, detector)
        if clip.skipped:
            wav.unlink()
        else:
            shares.append(low_band_share(x))
        clips.append(clip)
        if n % 100 == 0:
            progress(f"  checked {n}/{len(files)}")
    if float(np.median(shares)) < 0.8:
        raise DatasetError(
            f"The decoded prompts do not look like speech (median share of energy below 4 kHz "
            f"{np.median(shares):.2f}; speech gives over 0.9). Check ffmpeg's G.722 decoder."
        )
    kept = [c for c in clips if not c.skipped]
    _write_metadata(stage / "metadata.csv", kept)
    (stage / "LICENSE.txt").write_text(license_text(copyright_text), encoding="utf-8")
    manifest = _manifest(clips, transcripts, names, float(np.median(shares)))
    atomic_write_json(stage / "manifest.json", manifest)
    return manifest


def _write_metadata(path: Path, clips: Iterable[Clip]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        for c in clips:
            fh.write(f"{c.id}|{c.text}|{c.normalized}\n")


def license_text(copyright_text: str = "") -> str:
    head = (
        "Speech: the English core prompts of Asterisk, recorded by Allison Smith (http://www.theivrvoice.com),\n"
        "financial contributions by Digium, Inc. Copyright 2003-2010 Allison Smith.\n"
        "Licence: Creative Commons Attribution-ShareAlike 3.0 (CC-BY-SA-3.0),\n"
        "https://creativecommons.org/licenses/by-sa/3.0/\n"
        f"Source: Debian packages {SOUNDS} and {TEXTS} {VERSION} (sha256 {SHA256[SOUNDS]}\n"
        f"and {SHA256[TEXTS]}), upstream http://downloads.asterisk.org/pub/telephony/sounds/.\n"
        "Changes made: decoded from G.722 to 16-bit PCM WAV; non-speech prompts left out; transcripts\n"
        "cleaned (keypad symbols written as the words said, annotations removed). Derived datasets and\n"
        "voices trained on them carry the same licence and this attribution.\n"
    )
    return head + ("\nThe Debian copyright file follows.\n\n" + copyright_text if copyright_text else "")


def _manifest(clips: list[Clip], transcripts: dict[str, str], names: list[str], share: float) -> dict[str, Any]:
    kept = [c for c in clips if not c.skipped]
    reasons: dict[str, int] = {}
    for c in clips:
        if c.skipped:
            key = c.skipped.split(" (")[0]
            reasons[key] = reasons.get(key, 0) + 1
    return {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "speaker": "Allison Smith (en-US, female)",
        "licence": "CC-BY-SA-3.0",
        "debs": dict(SHA256),
        "version": VERSION,
        "sample_rate": RATE,
        "prompts": len(clips),
        "kept": len(kept),
        "skipped": len(clips) - len(kept),
        "skipped_by_reason": reasons,
        "transcripts_without_audio": sorted(set(transcripts) - set(names)),
        "minutes": round(sum(c.seconds for c in kept) / 60, 3),
        "speech_minutes": round(sum(c.speech_seconds for c in kept) / 60, 3),
        "all_minutes": round(sum(c.seconds for c in clips) / 60, 3),
        "low_band_energy_median": round(share, 4),
        "clips": [asdict(c) for c in clips],
    }


# -------------------------------------------------------------------------------------- subsets


def seeded_rank(seed: int, uid: str) -> str:
    return hashlib.sha256(f"{seed}\x00{uid}".encode()).hexdigest()


def _word_set(text: str) -> frozenset[str]:
    return frozenset(re.findall(r"[a-z']+", text.lower()))


def is_sentence(clip: dict[str, Any]) -> bool:
    """A held-out candidate: a whole sentence of 6 to 20 words, 2 to 10 s of speech."""
    return (
        6 <= clip["words"] <= 20
        and 2.0 <= clip["speech_seconds"] <= 10.0
        and clip["text"].rstrip().endswith((".", "?", "!"))
    )


def choose_heldout(clips: list[dict[str, Any]], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` sentences by seeded rank, none sharing most of its words with another prompt.

    A held-out sentence whose near-twin is trained on (the set has many variants of one menu)
    would flatter the voice, so a candidate is skipped when another prompt has at least 60 %
    of its words in common (Jaccard on word sets), or when it is a near-twin of one chosen.
    """
    words = {c["id"]: _word_set(c["normalized"]) for c in clips}

    def overlap(a: str, b: str) -> float:
        return len(words[a] & words[b]) / max(1, len(words[a] | words[b]))

    candidates = sorted((c for c in clips if is_sentence(c)), key=lambda c: seeded_rank(seed, c["id"]))
    chosen: list[dict[str, Any]] = []
    for c in candidates:
        if len(chosen) == n:
            break
        if all(overlap(c["id"], o["id"]) < 0.6 for o in clips if o["id"] != c["id"]):
            chosen.append(c)
    if len(chosen) < n:
        raise UsageError(f"Only {len(chosen)} prompts qualify as distinct held-out sentences; ask for fewer with --held-out.")
    return chosen


def nested_subsets(
    clips: list[dict[str, Any]], heldout: list[dict[str, Any]], minutes: list[float], seed: int
) -> dict[float, list[dict[str, Any]]]:
    """Training subsets of up to each number of speech minutes, nested, disjoint from the held-out set.

    The rest is ordered once: prompts of three or more words first, then two-word, then single
    words, each tier in seeded order. Each subset keeps the one before it and adds, in that
    order, every prompt that still fits under its size, so it ends just under the size asked.
    """
    held = {c["id"] for c in heldout}
    rest = sorted(
        (c for c in clips if c["id"] not in held),
        key=lambda c: (-min(c["words"], 3), seeded_rank(seed, c["id"])),
    )
    available = sum(c["speech_seconds"] for c in rest) / 60
    out: dict[float, list[dict[str, Any]]] = {}
    chosen: list[dict[str, Any]] = []
    total = 0.0
    for target in sorted(minutes):
        if target > available:
            raise UsageError(f"{target:g} minutes asked, but only {available:.1f} min remain beside the held-out set.")
        taken = {c["id"] for c in chosen}
        for c in rest:
            if c["id"] not in taken and total + c["speech_seconds"] <= target * 60:
                chosen.append(c)
                total += c["speech_seconds"]
        out[target] = list(chosen)
    return out


def write_subsets(full: Path, out: Path, minutes: list[float], held_out: int, seed: int) -> dict[str, Any]:
    """The held-out list and one LJSpeech folder per subset (training prompts + held-out ones)."""
    full, out = full.resolve(), out.resolve()
    manifest = read_json_dict(full / "manifest.json", what="dataset manifest")
    if manifest.get("format") != FORMAT:
        raise UsageError(f"{full} was not built by this script; run: scripts/asterisk_dataset.py build {full}")
    clips = [c for c in manifest["clips"] if not c["skipped"]]
    heldout = choose_heldout(clips, held_out, seed)
    subsets = nested_subsets(clips, heldout, minutes, seed)
    texts = hashlib.sha256((full / "metadata.csv").read_bytes()).hexdigest()  # a rebuilt full set rewrites the subsets
    recipe = {"full": str(full), "debs": manifest["debs"], "metadata_sha256": texts, "seed": seed, "held_out": held_out}
    summary: dict[str, Any] = {"format": FORMAT + "-subsets", "schema_version": SCHEMA_VERSION, **recipe}
    summary["heldout"] = [c["id"] for c in heldout]
    summary["heldout_minutes"] = round(sum(c["speech_seconds"] for c in heldout) / 60, 3)
    summary["subsets"] = {}
    out.mkdir(parents=True, exist_ok=True)
    _write_ids(out / "heldout.txt", summary["heldout"], "held out from every subset")
    for target, train in subsets.items():
        name = f"asterisk-{target:02g}min"
        info = {
            "folder": str(out / name),
            "train": [c["id"] for c in train],
            "train_minutes": round(sum(c["speech_seconds"] for c in train) / 60, 3),
            "train_words": sum(c["words"] for c in train),
        }
        summary["subsets"][f"{target:g}"] = info
        _write_subset(full, out / name, train, heldout, {**recipe, **info, "minutes_asked": target})
    atomic_write_json(out / "subsets.json", summary)
    return summary


def _write_subset(full: Path, folder: Path, train: list[dict[str, Any]], heldout: list[dict[str, Any]], info: dict[str, Any]) -> None:
    manifest_path = folder / "manifest.json"
    if manifest_path.is_file() and read_json_dict(manifest_path, what="subset manifest") == info:
        progress(f"{folder} is up to date.")
        return
    with _building(folder) as stage:
        (stage / "wavs").mkdir()
        for c in train + heldout:
            _link_or_copy(full / "wavs" / f"{c['id']}.wav", stage / "wavs" / f"{c['id']}.wav")
        rows = [Clip(c["id"], c["name"], c["raw"], c["text"], c["normalized"]) for c in train + heldout]
        _write_metadata(stage / "metadata.csv", rows)
        _write_ids(stage / "heldout.txt", [c["id"] for c in heldout], "held out: voicebank train prepare --eval-ids")
        shutil.copyfile(full / "LICENSE.txt", stage / "LICENSE.txt")
        atomic_write_json(stage / "manifest.json", info)
    progress(f"Wrote {folder}: {len(train)} training prompts ({info['train_minutes']:.2f} min) + {len(heldout)} held out.")


def _write_ids(path: Path, ids: list[str], what: str) -> None:
    path.write_text(f"# {what}\n" + "".join(f"{i}\n" for i in ids), encoding="utf-8")


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


# ------------------------------------------------------------------------------------------ CLI


def _minutes(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected minutes like 3,8,15, not {text!r}") from exc
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError("minutes must be positive, like 3,8,15")
    return values


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="asterisk_dataset.py",
        description="A real-speech dataset of one US English woman (Asterisk prompts, CC-BY-SA-3.0) for learning curves.",
        epilog="Example: asterisk_dataset.py build DATA/full && asterisk_dataset.py subsets DATA/full DATA",
    )
    sub = p.add_subparsers(dest="command", required=True)
    b = sub.add_parser("build", help="download (apt-get download), decode and write the full LJSpeech folder")
    b.add_argument("out", type=Path, help="folder to write (keep it outside the repository: the audio is never committed)")
    b.add_argument("--debs", type=Path, help=f"folder holding {deb_name(SOUNDS)} and {deb_name(TEXTS)} (no download)")
    b.add_argument("--force", action="store_true", help="rebuild even when OUT is already built")
    s = sub.add_parser("subsets", help="held-out sentences + nested training subsets from a built folder")
    s.add_argument("full", type=Path, help="the folder 'build' wrote")
    s.add_argument("out", type=Path, help="folder for heldout.txt, subsets.json and one folder per subset")
    s.add_argument("--subsets", type=_minutes, default=[3.0, 8.0, 15.0], help="training minutes, nested (default 3,8,15)")
    s.add_argument("--held-out", type=int, default=20, help="held-out sentences shared by every subset (default 20)")
    s.add_argument("--seed", type=int, default=0, help="seed of the held-out choice and the subset order")
    return p


def main(argv: list[str] | None = None, *, report: Callable[[str], None] = print) -> int:
    args = parser().parse_args(argv)
    try:
        if args.command == "build":
            m = build(args.out, args.debs, force=args.force)
            report(
                f"{args.out}: kept {m['kept']} of {m['prompts']} prompts, {m['minutes']:.2f} min "
                f"({m['speech_minutes']:.2f} min of speech with margins); skipped {m['skipped']}: "
                + ", ".join(f"{n} {k}" for k, n in m["skipped_by_reason"].items())
            )
        else:
            if args.held_out < 1:
                raise UsageError("--held-out must be at least 1.")
            s = write_subsets(args.full, args.out, args.subsets, args.held_out, args.seed)
            report(f"held out: {len(s['heldout'])} sentences, {s['heldout_minutes']:.2f} min ({args.out / 'heldout.txt'})")
            for k, v in s["subsets"].items():
                report(f"{k:>4} min asked: {len(v['train'])} prompts, {v['train_minutes']:.2f} min of speech -> {v['folder']}")
    except VoicebankError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
