"""The speaker's consent, kept in the bank: a recorded statement checked against the bank, or a written attestation.

Owned by the consent work of issue 19. Contract used by the training gate:
:func:`consent_status(bank_dir) -> ConsentStatus`; the recorders (terminal and web) call
:func:`new_statement` then :func:`save_take`; the written path calls :func:`save_written`.

Every attempt is kept in ``BANK/consent/`` (the bank's prompts, takes, manifest and journal
are never touched): ``<id>.flac`` holds a recorded take and ``<id>.json`` its record (the
statement, the code words, the date, the operator on the proxy path, each check with its
numbers, and the verdict). Written consent is a record without audio. The latest record
decides. How the checks work and how their thresholds were measured: :mod:`.consent_check`
and ``docs/consent.md``.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import asdict, dataclass
from datetime import date as Date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..bank.layout import CONSENT_DIR  # the folder inside the bank
from ..durable import atomic_write, atomic_write_json, fsync_dir, read_json_dict, storage_error
from ..errors import AudioFormatError, BankError, CorruptFileError, UsageError

if TYPE_CHECKING:
    import numpy as np

ISSUED = ".issued-statement.json"  # in CONSENT_DIR: the statement issued for a recording made elsewhere
SCHEMA_VERSION = 1
HOW = ("recorded", "recorded-by-proxy", "written", "none")
CODE_WORD_COUNT = 3
MIN_TAKE_S = 2.0  # a statement takes about 10 s to read; less cannot hold it
# Code words: common two-to-five-syllable words that PocketSphinx's en-us dictionary knows, no
# two closer than 3 phone edits (so one is not heard as another); how they were chosen: docs/consent.md.
CODE_WORDS = tuple("""
alligator avocado balloon banana bicycle biscuit blanket blueberry bottle broccoli butterfly cabin cactus
calendar camera candle carpet chicken chocolate cinnamon circus coconut compass crystal cucumber dancer desert
diamond dictionary dinosaur doctor dolphin donkey dragon elephant engine envelope escalator falcon farmer finger
flamingo forest fountain garden giant ginger gorilla guitar hamburger harmonica harvest helicopter helmet
hospital iguana jacket jaguar jungle kangaroo ketchup lantern lemonade lizard lobster lollipop macaroni magazine
magnet mango marble melon mosquito motorcycle napkin needle newspaper octopus omelet orange orchard pajamas palace
parachute pencil penguin piano pineapple pirate planet porcupine potato pretzel pumpkin purple pyramid raccoon
radio sandwich sausage saxophone silver skeleton spaghetti spider squirrel strawberry submarine sunset tambourine
telescope television thunder timber toaster tornado tractor trumpet tunnel tuxedo umbrella unicorn vanilla
village violin vitamin volcano walnut watermelon whistle window yogurt zebra
""".split())


class ConsentError(UsageError):
    """Consent cannot be recorded as asked (no speaker name, an empty take, a statement without its code words)."""


@dataclass(frozen=True)
class ConsentStatus:
    ok: bool  # a passing consent take, or a written consent, is on file
    how: str  # "recorded", "recorded-by-proxy", "written", or "none"
    detail: str  # one line for people: what was checked, or why it is missing/failed
    record: dict | None = None  # the stored consent record, for the voice card


@dataclass(frozen=True)
class Statement:
    text: str  # the whole statement shown to the speaker (names them, the date, the code phrase)
    code_words: tuple[str, ...]  # the random code phrase's words, checked in the transcript
    speaker: str
    date: str  # ISO 8601 (YYYY-MM-DD)


def new_statement(
    speaker: str, *, date: str | None = None, seed: int | None = None, words: int = CODE_WORD_COUNT
) -> Statement:
    """A consent statement naming ``speaker`` and the date, ending in a random code phrase.

    ``date`` is ISO (YYYY-MM-DD; default today); ``seed`` makes the code phrase repeatable
    (tests); without it the phrase comes from the system's secure random source, so an old
    recording cannot hold it.
    """
    name = " ".join(str(speaker or "").split())
    if not name:
        raise ConsentError("Give the name of the person whose voice this is (--speaker NAME).")
    day = _parse_date(date) if date else Date.today()
    if not 3 <= words <= 4:
        raise ConsentError(f"A code phrase has 3 or 4 words, not {words}.")
    if seed is None:
        pool = list(CODE_WORDS)
        chosen = [pool.pop(secrets.randbelow(len(pool))) for _ in range(words)]
    else:
        import random

        chosen = random.Random(seed).sample(CODE_WORDS, words)
    spoken_day = f"{day.day} {day.strftime('%B')} {day.year}"
    text = (
        f"I, {name}, am recording my voice on {spoken_day} so that voicebank can make a voice for me. "
        f"My code phrase is: {' '.join(chosen)}."
    )
    return Statement(text=text, code_words=tuple(chosen), speaker=name, date=day.isoformat())


def _parse_date(text: str) -> Date:
    try:
        return Date.fromisoformat(text)
    except ValueError as exc:
        raise ConsentError(f"The date {text!r} is not a date in the form YYYY-MM-DD.") from exc


def issue_statement(bank_dir: str | os.PathLike[str], speaker: str) -> Statement:
    """A fresh statement for a recording made elsewhere (a phone, another program), kept in the bank.

    :func:`issued_statement` gives it back when that recording is brought in; issuing again
    replaces it, so only the latest code phrase counts.
    """
    root = _bank_root(bank_dir)
    statement = new_statement(speaker)
    atomic_write_json(_consent_dir(root) / ISSUED, {"schema_version": SCHEMA_VERSION, **asdict(statement)})
    return statement


def issued_statement(bank_dir: str | os.PathLike[str]) -> Statement:
    """The statement last issued by :func:`issue_statement` for this bank."""
    root = _bank_root(bank_dir)
    path = root / CONSENT_DIR / ISSUED
    if not path.is_file():
        raise ConsentError(f"No statement has been issued for {root}: show one with 'voicebank consent statement "
                           f"{root}', record it being read, then bring the recording in with --from-file.")
    data = read_json_dict(path, what="issued consent statement")
    try:
        return Statement(text=data["text"], code_words=tuple(data["code_words"]), speaker=data["speaker"],
                         date=data["date"])
    except (KeyError, TypeError) as exc:
        raise CorruptFileError(f"The issued consent statement {path} is damaged ({exc}); issue a new one.") from exc


def save_take(
    bank_dir: str | os.PathLike[str],
    samples: "np.ndarray",
    rate: int,
    statement: Statement,
    *,
    operator: str | None = None,
) -> ConsentStatus:
    """Store the consent take in the bank (durably), check it, record and return the verdict.

    The take is checked, then its audio is written, then its record (a take without a record
    is never the latest); a take that fails its checks is kept too (every attempt is), and the
    latest record decides :func:`consent_status`.
    """
    import numpy as np

    from ..audio import to_mono
    from .consent_check import run_checks

    root = _bank_root(bank_dir)
    _check_statement(statement)
    if int(rate) < 8000:
        raise AudioFormatError(f"A consent take at {rate} Hz is too coarse to check; record at 16000 Hz or more.")
    x = to_mono(np.asarray(samples, dtype=np.float32))
    if x.size == 0 or not np.all(np.isfinite(x)):
        raise AudioFormatError("The consent take holds no usable audio (empty, or invalid samples); nothing was saved.")
    if x.shape[0] / float(rate) < MIN_TAKE_S:
        raise AudioFormatError(
            f"The consent take is {x.shape[0] / float(rate):.1f} s long: too short to hold the statement. "
            "Record it again, reading the whole statement."
        )
    folder = _consent_dir(root)
    checks = run_checks(root, x, int(rate), statement)  # first: a check that cannot run leaves no file
    rid = _new_id()
    audio = _write_audio(folder / f"{rid}.flac", x, int(rate), statement)
    record = _take_record(rid, statement, operator, audio, checks)
    _write_record(folder, record)
    return _status_of(root, record)


def recheck(bank_dir: str | os.PathLike[str]) -> ConsentStatus:
    """Check the latest consent take again, as a new attempt (after recording more takes, for example)."""
    from ..audio import read_audio, to_mono
    from .consent_check import run_checks

    root = _bank_root(bank_dir)
    takes = [r for r in _records(root) if r.get("audio")]
    if not takes:
        raise ConsentError(f"There is no recorded consent take in {root} to check: voicebank consent record {root}")
    last = takes[-1]
    path = root / CONSENT_DIR / last["audio"]["file"]
    _check_audio_file(path, last["audio"]["sha256"])
    data, rate = read_audio(path)
    statement = Statement(
        text=last["statement"], code_words=tuple(last["code_words"]), speaker=last["speaker"], date=last["date"]
    )
    checks = run_checks(root, to_mono(data), rate, statement)
    record = _take_record(_new_id(), statement, last.get("operator"), last["audio"], checks)
    record["rechecks"] = last["id"]
    _write_record(_consent_dir(root), record)
    return _status_of(root, record)


def save_written(bank_dir: str | os.PathLike[str], *, reason: str, attested_by: str) -> ConsentStatus:
    """Record written consent for a person who can no longer speak: why, and who attests it."""
    root = _bank_root(bank_dir)
    reason, attested_by = " ".join(str(reason or "").split()), " ".join(str(attested_by or "").split())
    if not reason:
        raise ConsentError("Say why the consent is written, not spoken (--reason), for example: "
                           "'can no longer speak; consent given in writing on 2026-12-05'.")
    if not attested_by:
        raise ConsentError("Name who attests the written consent (--attested-by), for example the clinician "
                           "or the person's legal representative.")
    record = _base_record(_new_id(), "written")
    record.update(reason=reason, attested_by=attested_by, verdict="pass", ok=True,
                  detail=f"written consent, attested by {attested_by}: {reason}.")
    _write_record(_consent_dir(root), record)
    return _status_of(root, record)


def consent_status(bank_dir: str | os.PathLike[str]) -> ConsentStatus:
    """What consent is on file for the bank: the latest attempt decides."""
    root = _bank_root(bank_dir)
    records = _records(root)
    if not records:
        return ConsentStatus(
            False, "none",
            f"No consent is on file for {root}. Record it with: voicebank consent record {root} "
            f"(or, for a person who can no longer speak: voicebank consent written {root} --reason ... --attested-by ...).",
        )
    return _status_of(root, records[-1])


def attempts(bank_dir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every consent record on file, oldest first (for ``voicebank consent status``)."""
    return _records(_bank_root(bank_dir))


# ------------------------------------------------------------------------------ records


def _bank_root(bank_dir: str | os.PathLike[str]) -> Path:
    from ..bank.layout import MANIFEST

    root = Path(bank_dir)
    if not (root / MANIFEST).is_file():
        raise BankError(f"{root} is not a voice bank (it has no {MANIFEST}). Make one with: voicebank bank new {root}")
    return root


def _consent_dir(root: Path) -> Path:
    folder = root / CONSENT_DIR
    if not folder.is_dir():
        try:
            folder.mkdir()
        except FileExistsError:
            pass
        except OSError as exc:
            raise storage_error(exc, folder, action="create", what="the bank's consent folder") from exc
        fsync_dir(root)
    return folder


def _new_id() -> str:
    from datetime import datetime, timezone

    now = datetime.now(timezone.utc)
    return f"{now.strftime('%Y%m%dT%H%M%S')}{now.microsecond // 1000:03d}Z-{secrets.token_hex(3)}"


def _check_statement(statement: Statement) -> None:
    from ..train.metrics import wer_words

    from .consent_check import in_dictionary

    if not statement.code_words:
        raise ConsentError("The statement has no code words to check.")
    unknown = [w for word in statement.code_words for w in wer_words(word) if not in_dictionary(w)]
    if unknown:
        raise ConsentError(f"The code word(s) {', '.join(unknown)} are not in the recognizer's dictionary, so they "
                           "could never be heard; make the statement with new_statement().")
    said = set(wer_words(statement.text))
    missing = [w for w in statement.code_words if not set(wer_words(w)) <= said]
    if missing:
        raise ConsentError(f"The statement does not contain its code word(s) {', '.join(missing)}.")


def _write_audio(path: Path, samples: "np.ndarray", rate: int, statement: Statement) -> dict[str, Any]:
    from ..bank.takes import encode_flac

    data = encode_flac(samples, rate, "PCM_24", {"consent": statement.text})
    atomic_write(path, data)
    return {"file": path.name, "sha256": hashlib.sha256(data).hexdigest(), "sample_rate": rate,
            "seconds": round(samples.shape[0] / float(rate), 2)}


def _check_audio_file(path: Path, sha256: str) -> None:
    from ..bank.layout import sha256_file

    if not path.is_file():
        raise CorruptFileError(f"The consent take {path} is missing; record consent again.")
    if sha256_file(path) != sha256:
        raise CorruptFileError(f"The consent take {path} has changed since it was recorded; record consent again.")


def _base_record(rid: str, how: str) -> dict[str, Any]:
    from .. import __version__
    from ..bank.layout import utc_now

    return {"schema_version": SCHEMA_VERSION, "id": rid, "how": how, "created": utc_now(), "toolkit": __version__}


def _take_record(rid: str, statement: Statement, operator: str | None, audio: dict[str, Any],
                 checks: dict[str, dict[str, Any]]) -> dict[str, Any]:
    operator = " ".join(str(operator or "").split()) or None
    record = _base_record(rid, "recorded-by-proxy" if operator else "recorded")
    statuses = [c["status"] for c in checks.values()]
    verdict = "fail" if "fail" in statuses else "incomplete" if "waiting" in statuses else "pass"
    record.update(
        speaker=statement.speaker, date=statement.date, statement=statement.text,
        code_words=list(statement.code_words), operator=operator, audio=audio, checks=checks,
        verdict=verdict, ok=verdict == "pass", detail=_detail(verdict, checks),
    )
    return record


def _detail(verdict: str, checks: dict[str, dict[str, Any]]) -> str:
    if verdict == "pass":
        return "consent take passed: " + "; ".join(c["detail"] for c in checks.values()) + "."
    bad = [c["detail"] for c in checks.values() if c["status"] in ("fail", "waiting")]
    return ("consent take failed: " if verdict == "fail" else "consent take not yet complete: ") + "; ".join(bad) + "."


def _write_record(folder: Path, record: dict[str, Any]) -> None:
    atomic_write_json(folder / f"{record['id']}.json", record)


def _records(root: Path) -> list[dict[str, Any]]:
    folder = root / CONSENT_DIR
    if not folder.is_dir():
        return []
    out = []
    for path in sorted(folder.glob("*.json")):
        if path.name.startswith("."):
            continue  # an interrupted write's temporary file
        rec = read_json_dict(path, what="consent record")
        if rec.get("how") not in HOW or "id" not in rec:
            raise CorruptFileError(f"The consent record {path} is not one voicebank wrote (no 'id' or 'how').")
        out.append(rec)
    return sorted(out, key=lambda r: (str(r.get("created", "")), str(r["id"])))


def _status_of(root: Path, record: dict[str, Any]) -> ConsentStatus:
    how = str(record["how"])
    ok = bool(record.get("ok"))
    detail = str(record.get("detail", ""))
    if ok and record.get("audio"):
        try:
            _check_audio_file(root / CONSENT_DIR / record["audio"]["file"], record["audio"]["sha256"])
        except CorruptFileError as exc:
            ok, detail = False, str(exc)
    if not ok and record.get("verdict") == "incomplete":
        detail += f" Once the bank has them, check this take again with: voicebank consent check {root}"
    elif not ok and how != "written":
        detail += f" Record it again with: voicebank consent record {root}"
    return ConsentStatus(ok, how, detail, record)
