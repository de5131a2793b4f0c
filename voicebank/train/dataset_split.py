"""Which utterances of a dataset are held out: seeded, stable, or exactly the ids given.

Utterances are ranked by a hash of ``(seed, id)``, so the same bank gives the same split and
adding takes does not reshuffle it; ids held out before stay held out. Given a list of ids
(``train prepare --eval-ids FILE``), exactly those are held out, so several datasets (a
learning curve) are judged on the same recordings. How a bank becomes a dataset is
:mod:`.dataset`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from ..audio import PathLike
from ..errors import DatasetError, UsageError


def split_rank(uid: str, seed: int) -> str:
    """The seeded rank of an utterance for the held-out choice (lower ranks are held out first)."""
    return hashlib.sha256(f"{seed}\x00{uid}".encode()).hexdigest()


def choose_eval(
    ids: list[str], n_eval: int, seed: int, prev_eval: set[str] = frozenset(), prev_train: set[str] = frozenset()  # type: ignore[assignment]
) -> tuple[set[str], int]:
    """The held-out ids, and how many of them were held out before.

    Previously held-out ids that are still usable stay held out (even when that is more
    than ``n_eval``); the remaining places go to the lowest seeded ranks, ids never trained
    on before first.
    """
    present = set(ids)
    kept = present & set(prev_eval)
    chosen = set(kept)
    if len(chosen) < n_eval:
        rest = sorted(present - chosen, key=lambda i: (i in prev_train, split_rank(i, seed)))
        chosen.update(rest[: n_eval - len(chosen)])
    if len(chosen) >= len(present):
        raise DatasetError(
            f"All {len(present)} usable utterances were held out by the previous dataset in this folder, "
            "so none is left to train on. Record more takes, or prepare into a new folder."
        )
    return chosen, len(kept)


def fixed_eval(ids: list[str], wanted: tuple[str, ...], why: Mapping[str, str], prev_eval: set[str]) -> tuple[set[str], int]:
    """The given held-out ids, all of which must be usable (a shared held-out set must not shrink silently);
    ``why`` says, by id, why a take was left out of the dataset."""
    present = set(ids)
    missing = [i for i in wanted if i not in present]
    if missing:
        listed = "; ".join(f"{i}: {why.get(i, 'no chosen take in the bank')}" for i in missing[:5])
        raise DatasetError(
            f"{len(missing)} of the {len(wanted)} ids to hold out cannot be used ({listed}"
            + ("; ..." if len(missing) > 5 else "") + "). Import or fix those takes, or remove them from the list."
        )
    if len(wanted) >= len(ids):
        raise DatasetError(f"All {len(ids)} usable utterances are in the list to hold out: none is left to train on.")
    return set(wanted), len(set(wanted) & set(prev_eval))


def read_id_list(path: PathLike) -> tuple[str, ...]:
    """Ids from a file, one a line (blank lines and ``#`` comments ignored)."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"Cannot read the id list {p}: {exc}") from exc
    ids = tuple(ln.split("#")[0].strip() for ln in lines if ln.split("#")[0].strip())
    if not ids:
        raise UsageError(f"{p} lists no ids (one a line).")
    return ids
