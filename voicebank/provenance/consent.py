"""The speaker's consent, kept in the bank: a recorded statement checked against the bank, or a written attestation.

Owned by the consent work of issue 19. Contract used by the training gate:
:func:`consent_status(bank_dir) -> ConsentStatus`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class ConsentStatus:
    ok: bool  # a passing consent take, or a written consent, is on file
    how: str  # "recorded", "recorded-by-proxy", "written", or "none"
    detail: str  # one line for people: what was checked, or why it is missing/failed
    record: dict | None = None  # the stored consent record, for the voice card


def consent_status(bank_dir: str | os.PathLike[str]) -> ConsentStatus:
    raise NotImplementedError
