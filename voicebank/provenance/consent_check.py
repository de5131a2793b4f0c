"""The three checks on a consent take: the code words were said, by the bank's speaker, by a person (not our synthesis).

* **code words**: PocketSphinx (its bundled en-us models) transcribes the take with a grammar
  of the statement's words, every code word of the list, and a few filler phones
  (:func:`heard_words`); all code words but one (at least two) must be heard.
* **speaker**: Resemblyzer (:class:`~voicebank.train.metrics.SpeakerEncoder`) embeds the take
  and the bank's takes; the cosine of the take to the mean of the bank's takes must reach
  :data:`SPEAKER_THRESHOLD`. A bank with fewer than :data:`MIN_BANK_TAKES` usable takes cannot
  be compared yet: the check is "waiting" (record more takes, then ``voicebank consent check``).
* **not synthetic**: a take carrying this toolkit's watermark
  (:func:`voicebank.provenance.watermark.detect`) fails; where the detector is not installed
  or not yet built the check says "not available" and does not decide.

Each check returns ``{"status": pass|fail|waiting|not available, "detail": one line, ...numbers}``.
Thresholds and how they were measured: ``docs/consent.md`` (``voicebank bench consent --json``).
Responsible for judging; not for storing (:mod:`.consent`).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from .consent import Statement

SPEAKER_THRESHOLD = 0.78  # cosine to the bank's mean embedding (docs/consent.md)
MIN_BANK_TAKES = 5  # takes of at least MIN_REFERENCE_S the bank needs before a speaker can be compared
MAX_BANK_TAKES = 30  # the longest takes up to this many make the bank's mean embedding
MIN_REFERENCE_S = 1.0
ENCODER_NAME = "resemblyzer"  # the bank takes' embeddings are cached under this name
EMBEDDINGS_CACHE = ".speaker-embeddings.json"  # in BANK/consent/: {take sha256: embedding}
# Phones that stand for "anything else" in the code-word grammar (see heard_words).
FILLER_PHONES = ("AH", "IY", "AA", "S", "T", "N", "M", "L", "R", "K", "EH", "ER")


def run_checks(root: Path, samples: "np.ndarray", rate: int, statement: "Statement") -> dict[str, dict[str, Any]]:
    """All three checks of one take (mono float32) against the bank at ``root``."""
    return {
        "code_words": check_code_words(samples, rate, statement),
        "speaker": check_speaker(samples, rate, root),
        "watermark": check_watermark(samples, rate),
    }


def check_code_words(samples: "np.ndarray", rate: int, statement: "Statement") -> dict[str, Any]:
    """Pass when PocketSphinx hears at least all but one of the code words (and at least two)."""
    from ..train.metrics import wer_words

    wanted = [w for word in statement.code_words for w in wer_words(word)]
    transcript = heard_words(samples, rate, statement.text)
    heard = set(transcript.split())
    found = [w for w in wanted if w in heard]
    missing = [w for w in wanted if w not in heard]
    need = code_words_needed(len(wanted))
    ok = len(found) >= need
    if not missing:
        detail = f"code words heard ({' '.join(found)})"
    else:
        detail = (f"code word{'s' if len(missing) > 1 else ''} not heard: {' '.join(missing)} (heard {len(found)} "
                  f"of {len(wanted)}, needs {need}{'' if ok else '; read the code phrase clearly'})")
    return {"status": "pass" if ok else "fail", "detail": detail, "transcript": transcript, "found": found,
            "missing": missing, "needed": need}


def code_words_needed(n: int) -> int:
    """How many of ``n`` code words must be heard: all but one, and at least two (all of one or two)."""
    return n if n <= 2 else max(2, n - 1)


def in_dictionary(word: str) -> bool:
    """True when PocketSphinx's en-us dictionary knows ``word`` (lower case)."""
    return _dictionary_decoder().lookup_word(word) is not None


@functools.lru_cache(maxsize=1)
def _dictionary_decoder() -> Any:
    from pocketsphinx import Decoder

    return Decoder(loglevel="FATAL")


def heard_words(samples: "np.ndarray", rate: int, text: str) -> str:
    """What PocketSphinx hears, choosing among the words of ``text``, every code word, and a few phones.

    A grammar instead of free decoding: the bundled language model finds odd words in odd
    order ("my code phrase is zebra violin potato") unlikely and drops them, while a loop of
    the statement's own words finds them; all :data:`~.consent.CODE_WORDS` compete, so a
    take reading *another* code phrase is heard as that phrase; single phones absorb speech
    that is none of these words (a name the dictionary lacks, a cough, another sentence).
    Measured in docs/consent.md.
    """
    import numpy as np

    from ..audio import resample, to_mono
    from ..errors import MissingDependencyError
    from ..train.metrics import ASR_RATE, wer_words
    from .consent import CODE_WORDS

    try:
        from pocketsphinx import Decoder
    except ImportError as exc:
        raise MissingDependencyError("pocketsphinx (the code-word check of a consent take)", "train") from exc
    # cmn=batch: the take is normalised on its own; one pass is enough for a small grammar
    dec = Decoder(samprate=ASR_RATE, loglevel="FATAL", cmn="batch", fwdflat=False, bestpath=False)
    for i, phone in enumerate(FILLER_PHONES):
        dec.add_word(f"ph_{phone.lower()}", phone, i == len(FILLER_PHONES) - 1)
    words = sorted({w for w in wer_words(text) if dec.lookup_word(w) is not None} | set(CODE_WORDS))
    words += [f"ph_{p.lower()}" for p in FILLER_PHONES]
    dec.add_jsgf_string("consent", "#JSGF V1.0;\ngrammar consent;\npublic <s> = ( " + " | ".join(words) + " )* ;\n")
    dec.activate_search("consent")
    x = resample(to_mono(np.asarray(samples, dtype=np.float32)), int(rate), ASR_RATE)
    dec.start_utt()
    dec.process_raw((np.clip(x, -1.0, 1.0) * 32767.0).astype(np.int16).tobytes(), full_utt=True)
    dec.end_utt()
    hyp = dec.hyp()
    return " ".join(w for w in (hyp.hypstr.split() if hyp is not None else []) if not w.startswith("ph_"))


def check_speaker(samples: "np.ndarray", rate: int, root: Path) -> dict[str, Any]:
    """Pass when the take's speaker embedding is close enough to the mean of the bank's takes."""
    from ..train.metrics import cosine, mean_embedding

    encoder = _speaker_encoder()
    refs = [e for e in bank_reference_embeddings(root, encoder) if e is not None]
    if len(refs) < MIN_BANK_TAKES:
        return {
            "status": "waiting", "bank_takes": len(refs), "threshold": SPEAKER_THRESHOLD,
            "detail": (f"the bank has {len(refs)} usable take{'s' if len(refs) != 1 else ''} to compare the voice "
                       f"with: record at least {MIN_BANK_TAKES} takes first (voicebank record {root})"),
        }
    take = encoder.embed(samples, rate)
    if take is None:
        return {"status": "fail", "bank_takes": len(refs), "threshold": SPEAKER_THRESHOLD,
                "detail": "no speech found in the take to compare with the bank's voice"}
    ref = mean_embedding(refs)
    score = cosine(take, ref)
    if score is None:
        return {"status": "fail", "bank_takes": len(refs), "threshold": SPEAKER_THRESHOLD,
                "detail": "the bank's takes hold no speech to compare the take with"}
    ok = score >= SPEAKER_THRESHOLD
    detail = (f"voice matches the bank's {len(refs)} takes (similarity {score:.2f}, needs {SPEAKER_THRESHOLD:.2f})" if ok
              else f"voice does not match the bank's {len(refs)} takes (similarity {score:.2f}, needs "
                   f"{SPEAKER_THRESHOLD:.2f}): the statement must be read by the person whose voice is banked")
    return {"status": "pass" if ok else "fail", "similarity": round(score, 4), "threshold": SPEAKER_THRESHOLD,
            "bank_takes": len(refs), "detail": detail}


@functools.lru_cache(maxsize=1)
def _speaker_encoder() -> Any:
    """Resemblyzer, loaded once per process (a recorder checks several takes)."""
    from ..train.metrics import SpeakerEncoder

    return SpeakerEncoder()


def bank_reference_embeddings(root: Path, encoder: Any) -> list["np.ndarray | None"]:
    """Embeddings of the bank's takes to compare with: chosen takes (else accepted ones), long enough.

    The longest :data:`MAX_BANK_TAKES` are used. The bank is read without a lock (a recorder may
    hold it) and is never changed; each take's embedding is kept in ``consent/`` under the take
    file's sha256 (:data:`EMBEDDINGS_CACHE`), so a second attempt embeds only the new take.
    """
    import numpy as np

    from ..audio import to_mono
    from ..bank.store import Bank
    from ..durable import atomic_write_json, read_json_dict
    from .consent import CONSENT_DIR

    cache_path = root / CONSENT_DIR / EMBEDDINGS_CACHE
    cache = read_json_dict(cache_path, what="speaker-embedding cache") if cache_path.is_file() else {}
    known = cache.get("takes", {}) if cache.get("encoder") == ENCODER_NAME else {}
    out, added = [], 0
    with Bank.open(root, writable=False) as bank:
        chosen = [t for t in (bank.chosen_take(p) for p in bank.chosen) if t is not None]
        pool = chosen or [t for t in bank.takes.values() if t.status == "accepted"]
        pool = [t for t in pool if t.status != "rejected" and t.duration >= MIN_REFERENCE_S]
        for take in sorted(pool, key=lambda t: (-t.duration, t.id))[:MAX_BANK_TAKES]:
            if take.sha256 not in known:
                data, rate = bank.read_take(take)
                e = encoder.embed(to_mono(data), rate)
                known[take.sha256] = None if e is None else [round(float(v), 7) for v in e]
                added += 1
            e = known[take.sha256]
            out.append(None if e is None else np.asarray(e, dtype=np.float64))
    if added and cache_path.parent.is_dir():
        atomic_write_json(cache_path, {"encoder": ENCODER_NAME, "takes": known}, indent=None)
    return out


def check_watermark(samples: "np.ndarray", rate: int) -> dict[str, Any]:
    """Fail a take that carries this toolkit's watermark (synthesized by a voicebank voice)."""
    from ..errors import MissingDependencyError

    try:
        from .watermark import detect

        found = detect(samples, rate)
    except (NotImplementedError, ImportError, MissingDependencyError) as exc:
        why = "not built yet" if isinstance(exc, NotImplementedError) else f"not installed ({exc})"
        return {"status": "not available", "detail": f"watermark check not available ({why})"}
    numbers = {"present": found.present, "confidence": round(float(found.confidence), 4), "seconds": found.seconds}
    if found.present:
        return {"status": "fail", **numbers,
                "detail": f"the take carries voicebank's watermark (confidence {found.confidence:.2f}): it is synthetic speech"}
    if found.present is None:
        return {"status": "not available", **numbers,
                "detail": f"watermark could not be judged ({found.reason or 'too short'})"}
    return {"status": "pass", **numbers, "detail": "no voicebank watermark found"}
