"""A dataset folder on disk (LJSpeech layout): its file names, reading it back, writing it whole.

Layout::

    OUT/
      wavs/<id>.wav          16-bit mono at the model's rate
      metadata.csv           TRAINING utterances only: ``id|text|normalized text``
      metadata_eval.csv      the held-out utterances (never trained on), same columns
      dataset.json           report, settings, held-out ids, schema_version

A folder is written beside ``OUT`` and moved into place (:func:`write_dataset`), so ``OUT``
is the old dataset or the new one, never a mix. How a bank becomes one is :mod:`.dataset`.
"""

from __future__ import annotations

import csv
import io
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..audio import PathLike
from ..durable import atomic_write_json, fsync_dir, fsync_file, move, read_json_dict
from ..errors import CorruptFileError, DatasetError, UsageError

FORMAT_NAME = "voicebank-dataset"
WAVS = "wavs"
TRAIN_META = "metadata.csv"
EVAL_META = "metadata_eval.csv"
REPORT = "dataset.json"


@dataclass(frozen=True)
class Utterance:
    """One dataset row: its id, the transcript as written and as spoken, its wav."""

    id: str
    text: str
    normalized: str
    wav: Path
    seconds: float = 0.0
    take_id: str = ""


def load_dataset(path: PathLike) -> DatasetInfo:
    """Read a dataset folder written by :func:`prepare_dataset` (for training and evaluation)."""
    root = Path(path)
    meta_path = root / REPORT
    if not root.is_dir() or not (root / TRAIN_META).is_file():
        raise DatasetError(
            f"{root} is not a dataset folder (no {TRAIN_META}). Make one with: voicebank train prepare BANK {root}"
        )
    meta: dict[str, Any] = {}
    if meta_path.is_file():
        try:
            meta = read_json_dict(meta_path, what="dataset report")
        except (CorruptFileError, OSError) as exc:
            raise DatasetError(f"{exc} Prepare the dataset again.") from exc
    rate = int(meta.get("sample_rate") or 0)
    return DatasetInfo(
        root=root,
        sample_rate=rate,
        train=read_metadata(root / TRAIN_META, root / WAVS),
        eval=read_metadata(root / EVAL_META, root / WAVS) if (root / EVAL_META).is_file() else [],
        meta=meta,
    )


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset folder as read back: its rows and its report."""

    root: Path
    sample_rate: int
    train: list[Utterance]
    eval: list[Utterance]
    meta: dict[str, Any]


def read_metadata(path: Path, wavs: Path) -> list[Utterance]:
    """Rows of an LJSpeech ``metadata.csv`` (``id|text|normalized``) with their wav paths."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path} cannot be read ({exc}).") from exc
    rows = []
    for n, row in enumerate(csv.reader(text.splitlines(), delimiter="|", quoting=csv.QUOTE_NONE), 1):
        if not row or not row[0].strip():
            continue
        if len(row) < 2:
            raise DatasetError(f"{path} line {n}: expected 'id|text|normalized text'.")
        uid = row[0].strip()
        raw = row[1].strip()
        norm = row[2].strip() if len(row) > 2 and row[2].strip() else raw
        rows.append(Utterance(uid, raw, norm, wavs / f"{uid}.wav"))
    return rows


def previous_split(out: Path) -> tuple[set[str], set[str]]:
    """Held-out and training ids of the dataset already in ``out`` (empty sets when none).

    Refuses an ``out`` that exists and is something else, so a typo never replaces a folder
    of the user's.
    """
    if not out.exists():
        return set(), set()
    if not out.is_dir():
        raise UsageError(f"{out} is a file; give a folder for the dataset.")
    meta = out / REPORT
    if not meta.is_file():
        if any(out.iterdir()):
            raise UsageError(
                f"{out} already exists and is not a voicebank dataset; choose a new folder for the dataset."
            )
        return set(), set()
    try:
        data = read_json_dict(meta, what="dataset report")
    except (CorruptFileError, OSError) as exc:
        raise UsageError(f"{exc} Move {out} aside and prepare into a new folder.") from exc
    if data.get("format") != FORMAT_NAME:
        raise UsageError(f"{out} is not a voicebank dataset; choose a new folder for the dataset.")
    prev_eval = set(data.get("eval_ids", []))
    prev_train: set[str] = set()
    if (out / TRAIN_META).is_file():
        prev_train = {u.id for u in read_metadata(out / TRAIN_META, out / WAVS)}
    return prev_eval, prev_train


def write_dataset(
    out: Path,
    train: list[tuple[Utterance, np.ndarray]],
    held: list[tuple[Utterance, np.ndarray]],
    report: dict[str, Any],
    sample_rate: int,
) -> None:
    """Build the folder beside ``out`` (wavs, both metadata files, ``report`` as ``dataset.json``)
    and move it into place, replacing the old one."""
    import soundfile as sf

    parent = out.parent if str(out.parent) else Path(".")
    parent.mkdir(parents=True, exist_ok=True)
    tmp = parent / f".{out.name}.building-{uuid.uuid4().hex[:8]}"
    old = parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
    try:
        (tmp / WAVS).mkdir(parents=True)
        for utt, audio in train + held:
            sf.write(str(tmp / WAVS / f"{utt.id}.wav"), audio, sample_rate, subtype="PCM_16")
        _write_text(tmp / TRAIN_META, _metadata([u for u, _ in train]))
        _write_text(tmp / EVAL_META, _metadata([u for u, _ in held]))
        atomic_write_json(tmp / REPORT, report, indent=1)
        _fsync_tree(tmp)
        if out.exists():
            move(out, old)
        move(tmp, out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _metadata(rows: list[Utterance]) -> str:
    buf = io.StringIO()
    for u in rows:
        buf.write(f"{u.id}|{u.text}|{u.normalized}\n")
    return buf.getvalue()


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def _fsync_tree(root: Path) -> None:
    """Flush every file of the new dataset folder and the folders themselves before it is moved in."""
    for p in sorted(root.rglob("*")):
        if p.is_file():
            fsync_file(p)
    for d in (root / WAVS, root):
        fsync_dir(d)
