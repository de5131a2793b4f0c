"""A trained voice's record, ``training.json``: its file name, schema, and a reader and writer.

The trainer (:mod:`voicebank.train.finetune`) writes it as a run goes on (recipe, dataset,
base, status, best step, stop reason); the exporter reads it to find the base a voice came
from and the dataset it was trained on. This module knows the file, not the training.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..durable import atomic_write_json, read_json
from ..errors import CorruptFileError

TRAINING_RECORD = "training.json"
TRAINING_SCHEMA = 1


def read_training_record(voice_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """The record in ``voice_dir``, or None when there is none.

    A damaged file raises :class:`~voicebank.errors.CorruptFileError` naming it; a record
    of another schema is returned as it is (the caller decides whether it understands it).
    """
    data = read_json(Path(voice_dir) / TRAINING_RECORD, None, what="training record")
    if data is None:
        return None
    if not isinstance(data, dict):
        raise CorruptFileError(f"The training record {Path(voice_dir) / TRAINING_RECORD} is not a JSON object.")
    return data


def write_training_record(voice_dir: str | os.PathLike[str], fields: dict[str, Any]) -> dict[str, Any]:
    """Update the record with ``fields`` (keys written earlier stay) atomically; returns what was written."""
    record = read_training_record(voice_dir) or {}
    record.update({"schema_version": TRAINING_SCHEMA, **fields})
    atomic_write_json(Path(voice_dir) / TRAINING_RECORD, record, indent=2)
    return record
