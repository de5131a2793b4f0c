"""The training gate: no voice is made from a bank without the speaker's consent on file, unless a reason is given.

``voicebank train prepare``, ``finetune``, ``instant`` and ``clone`` call it before any work.
A bank's consent is :func:`voicebank.provenance.consent.consent_status`; ``prepare`` carries
the verdict into the dataset (``DATASET/consent.json``), where ``finetune`` and ``instant``
find it, and every voice made writes it into its card (:mod:`voicebank.voice.card`).
``--without-consent "reason"`` lets the work go on and puts the reason in the card.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..durable import atomic_write_json, read_json
from ..errors import CorruptFileError, UsageError
from ..voice.card import DATASET_CONSENT, PASSED, WITHOUT, VoiceCard, base_of, new_card, now, write_card

CHECKED_WITH = {
    "recorded": "the code phrase found in a pocketsphinx transcript of the take; the take's voice matched "
                "against the bank's other takes (resemblyzer)",
    "written": "a written attestation: the reason and who attests it",
}
CHECKED_WITH["recorded-by-proxy"] = CHECKED_WITH["recorded"] + "; the operator's name recorded"


class ConsentRequired(UsageError):
    """Training was asked for without the speaker's consent on file and without ``--without-consent``."""


def require_consent(bank_dir: str | os.PathLike[str], without_consent: str | None) -> dict[str, Any]:
    """The consent dict for the voice's card, or :class:`ConsentRequired` saying why there is none and what to do."""
    bank = Path(bank_dir).expanduser()
    reason = _reason(without_consent)
    if not bank.is_dir():
        raise UsageError(f"There is no voice bank at {bank}.")
    from ..provenance.consent import consent_status

    status = consent_status(bank)
    if status.ok:
        return {"status": PASSED, "how": status.how, "detail": status.detail, "checked": now(),
                "checked_with": _checked_with(status.how, status.record), "bank": str(bank.resolve()),
                "record": status.record}
    # The consent module's detail ends in its own advice to record again; the list below gives all the ways on.
    why = (status.detail or "").split(" Record it")[0].rstrip(". ") or "no consent take has passed"
    if reason is None:
        raise ConsentRequired(
            f"Training needs the speaker's consent, and the bank {bank} has none that passed.\n"
            f"Why: {why}.\n"
            "To go on, do one of these:\n"
            f"  record the consent statement (the speaker reads it aloud):  voicebank consent record {bank}\n"
            f"  for a person who can no longer speak, record written consent:\n"
            f"    voicebank consent written {bank} --reason \"why it is written\" --attested-by \"who attests it\"\n"
            "  or, if the speaker's consent was given another way, say how:  --without-consent \"the reason\"\n"
            "    (the reason is written into the voice's card for anyone who uses the voice)"
        )
    return _without(reason, why, bank=str(bank.resolve()))


def dataset_consent(dataset_dir: str | os.PathLike[str], without_consent: str | None) -> dict[str, Any]:
    """The consent a dataset (or a folder of recordings) was prepared under, for ``finetune`` and ``instant``.

    A dataset made by ``voicebank train prepare`` carries it in ``consent.json``; a folder
    without one is refused unless ``--without-consent`` gives a reason.
    """
    folder = Path(dataset_dir).expanduser()
    reason = _reason(without_consent)
    if not folder.is_dir():
        raise UsageError(f"There is no dataset at {folder}: make one with 'voicebank train prepare BANK {folder}'.")
    record = read_dataset_consent(folder)
    consent = (record or {}).get("consent")
    if isinstance(consent, dict) and consent.get("status") in (PASSED, WITHOUT):
        return dict(consent)
    why = (f"{folder} holds no consent record ({DATASET_CONSENT}): it was not made by 'voicebank train prepare' "
           "from a bank with the speaker's consent, or it was made before consent was checked")
    if reason is None:
        raise ConsentRequired(
            f"Training needs the speaker's consent: {why}.\n"
            "To go on, do one of these:\n"
            "  record the speaker's consent in their bank (voicebank consent record BANK), then make the dataset\n"
            f"    again from it:  voicebank train prepare BANK {folder}\n"
            "  or, if the speaker's consent was given another way, say how:  --without-consent \"the reason\"\n"
            "    (the reason is written into the voice's card for anyone who uses the voice)"
        )
    return _without(reason, why, dataset=str(folder.resolve()))


def resumed_reason(out: str | os.PathLike[str], dataset_dir: str | os.PathLike[str]) -> str | None:
    """The ``--without-consent`` reason a run in ``out`` was started with on this dataset (its card keeps it), so
    ``--resume`` need not be told again; None when the card has none."""
    from ..voice.card import read_card

    try:
        card = read_card(out)
    except CorruptFileError:
        return None
    consent = card.consent if card is not None else {}
    same = Path(str(consent.get("dataset", ""))).resolve() == Path(dataset_dir).expanduser().resolve()
    reason = consent.get("reason_without_consent")
    return reason if consent.get("status") == WITHOUT and same and isinstance(reason, str) and reason.strip() else None


def read_dataset_consent(dataset_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    """``DATASET/consent.json`` as written by :func:`write_dataset_consent`; None when there is none."""
    path = Path(dataset_dir) / DATASET_CONSENT
    data = read_json(path, None, what="dataset consent record")
    if data is not None and not isinstance(data, dict):
        raise CorruptFileError(f"The dataset consent record {path} is not a JSON object: make the dataset again.")
    return data


def write_dataset_consent(
    dataset_dir: str | os.PathLike[str],
    consent: dict[str, Any],
    *,
    bank: str | os.PathLike[str],
    speaker: str,
    takes: int,
    minutes: float,
    held_out: int = 0,
) -> dict[str, Any]:
    """Keep, next to the dataset, the consent it was made under and what it holds (read back by finetune and instant)."""
    record = {
        "schema_version": 1,
        "consent": consent,
        "speaker": speaker,
        "training_data": {"bank": str(Path(bank).expanduser().resolve()), "dataset": str(Path(dataset_dir).resolve()),
                          "takes": int(takes), "minutes": round(float(minutes), 2), "held_out": int(held_out)},
        "prepared": now(),
    }
    atomic_write_json(Path(dataset_dir) / DATASET_CONSENT, record, indent=2)
    return record


def training_card(
    name: str,
    kind: str,
    consent: dict[str, Any],
    *,
    data: str | os.PathLike[str] | None = None,
    recipe: dict[str, Any] | None = None,
    base: Any = None,
    speaker: str = "",
    training_data: dict[str, Any] | None = None,
    base_model: tuple[str, str] | None = None,
) -> VoiceCard:
    """The card of a voice made now from ``data`` (a dataset: its consent record gives speaker and size).

    ``base_model`` is (model, licence) where the caller knows it; else it comes from ``recipe`` and ``base``.
    """
    record = None
    if data is not None:
        try:
            record = read_dataset_consent(data)
        except CorruptFileError:
            record = None
    summary = dict((record or {}).get("training_data") or {})
    if not summary and data is not None:
        summary = {"data": str(Path(data).expanduser().resolve())}
    summary.update(training_data or {})
    model, licence = base_model or base_of(recipe or {}, base)
    return new_card(name, kind=kind, consent=consent, speaker=speaker or str((record or {}).get("speaker") or ""),
                    training_data=summary, base_model=model, base_licence=licence)


def recorded_dataset(voice_dir: str | os.PathLike[str]) -> str | None:
    """The dataset a training run in ``voice_dir`` was started on (for ``--resume`` without ``--dataset``)."""
    state = _run_state(Path(voice_dir).expanduser())
    return str(state["dataset"]) if state.get("dataset") else None


def write_training_card(
    voice_dir: str | os.PathLike[str], consent: dict[str, Any], dataset: str | os.PathLike[str] | None
) -> VoiceCard:
    """Write the card of a fine-tuned voice (VITS or XTTS), its base taken from the run's record."""
    folder = Path(voice_dir).expanduser()
    state = _run_state(folder)
    recipe = state.get("recipe") if isinstance(state.get("recipe"), dict) else {}
    kind = "xtts (fine-tuned)" if recipe.get("model") == "xtts" else "vits"
    card = training_card(folder.name, kind, consent, data=dataset or state.get("dataset"), recipe=recipe,
                         base=state.get("base"))
    write_card(folder, card)
    return card


def write_clone_card(voice_dir: str | os.PathLike[str], consent: dict[str, Any], bank: str | os.PathLike[str],
                     base: Any, references: int) -> VoiceCard:
    """Write the card of a zero-shot XTTS voice cloned from a bank's takes (``voicebank train clone``)."""
    from ..bank.store import Bank
    from ..voice.xtts_card import LICENCE

    with Bank.open(bank, writable=False) as opened:
        speaker = str(opened.meta.get("speaker", ""))
    folder = Path(voice_dir)
    card = training_card(folder.name, "xtts (zero-shot)", consent, speaker=speaker,
                         training_data={"bank": str(Path(bank).expanduser().resolve()), "takes": references},
                         base_model=(f"XTTS-v2 ({base})", LICENCE))
    write_card(folder, card)
    return card


def _run_state(folder: Path) -> dict[str, Any]:
    """A run's record: ``training.json`` (VITS) or ``xtts_run.json`` (XTTS, :mod:`.xtts`); {} when neither is there."""
    from ..voice.training_record import read_training_record

    found = read_training_record(folder)
    if found is None:
        found = read_json(folder / "xtts_run.json", None, what="XTTS run record")
    return found if isinstance(found, dict) else {}


def _reason(without_consent: str | None) -> str | None:
    if without_consent is None:
        return None
    reason = " ".join(without_consent.split())
    if len(reason) < 3:
        raise UsageError('--without-consent needs the reason in words, such as --without-consent "my own voice, '
                         'recorded by me" (it goes into the voice\'s card).')
    return reason


def _without(reason: str, why: str, **where: str) -> dict[str, Any]:
    return {"status": WITHOUT, "how": "none", "detail": f"Made without a passing consent take ({why}).",
            "reason_without_consent": reason, "given": now(), **where}


def _checked_with(how: str, record: dict[str, Any] | None) -> str:
    """What was checked: each check's own line from the consent record, else what the method checks."""
    checks = (record or {}).get("checks")
    if isinstance(checks, dict) and checks:
        return "; ".join(f"{name}: {c.get('detail', c.get('status', ''))}" if isinstance(c, dict) else str(name)
                         for name, c in checks.items())
    return CHECKED_WITH.get(how, how)
