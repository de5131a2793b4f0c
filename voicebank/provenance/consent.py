"""The speaker's consent, kept in the bank: a recorded statement checked against the bank, or a written attestation.

Owned by the consent work of issue 19. Contract used by the training gate:
:func:`consent_status(bank_dir) -> ConsentStatus`; the recorders (terminal and web) call
:func:`new_statement` then :func:`save_take`; the written path calls :func:`save_written`.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING
from dataclasses import dataclass

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class ConsentStatus:
    ok: bool  # a passing consent take, or a written consent, is on file
    how: str  # "recorded", "recorded-by-proxy", "written", or "none"
    detail: str  # one line for people: what was checked, or why it is missing/failed
    record: dict | None = None  # the stored consent record, for the voice card


def consent_status(bank_dir: str | os.PathLike[str]) -> ConsentStatus:
    raise NotImplementedError


@dataclass(frozen=True)
class Statement:
    text: str  # the whole statement shown to the speaker (names them, the date, the code phrase)
    code_words: tuple[str, ...]  # the random code phrase's words, checked in the transcript
    speaker: str
    date: str


def new_statement(speaker: str, *, date: str | None = None, seed: int | None = None) -> Statement:
    raise NotImplementedError


def save_take(
    bank_dir: str | os.PathLike[str],
    samples: "np.ndarray",
    rate: int,
    statement: Statement,
    *,
    operator: str | None = None,
) -> ConsentStatus:
    """Store the consent take in the bank (durably), check it, record and return the verdict."""
    raise NotImplementedError


def save_written(bank_dir: str | os.PathLike[str], *, reason: str, attested_by: str) -> ConsentStatus:
    """Record written consent for a person who can no longer speak: why, and who attests it."""
    raise NotImplementedError
