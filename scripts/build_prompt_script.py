"""Build the shipped English recording script from the sentence pool.

Run from the repository root (needs ``piper-tts``, which bundles espeak-ng)::

    .venv/bin/python scripts/build_prompt_script.py            # writes the package data
    .venv/bin/python scripts/build_prompt_script.py --check    # exit 1 if it is out of date

What it does, in order:

1. Reads ``scripts/data/prompt_pool_en.txt``: sentences written for this project, one
   a line (``#`` lines are comments). Each must start with a capital letter, end with
   ``.``, ``?`` or ``!``, use only letters, spaces and ``,.'?!;:-``, have 2 to 18 words
   and at most 100 characters; duplicates (ignoring case and punctuation) are refused.
2. Phonemizes every sentence with espeak-ng (voice ``en-us``) and splits the IPA into
   phones with :func:`voicebank.bank.prompts.tokenize_ipa` (the rules are in that
   module's docstring: stress dropped, length marks attached, aɪ aʊ ɔɪ eɪ oʊ tʃ dʒ as
   single phones).
3. Builds the coverage *denominator*: every lowercase, letters-only entry of
   ``/usr/share/dict/words`` (Debian ``wamerican``; proper nouns, possessives and
   accented entries are skipped) is phonemized on its own with espeak-ng ``en-us``.
   Entries espeak would spell out letter by letter are dropped: those without a vowel
   letter (cf, mph, psst, single consonants), Roman numerals of two or more letters
   (xiv, clxvi; not "mi" and "mix"), and any that espeak turns into several words.
   The denominator is the set of *word-internal* diphones of the rest,
   with the word boundary ``#`` as a phone at both ends of each word. Cross-word
   diphones are not counted, in the denominator or in the prompts.
4. Orders the whole pool greedily (:func:`voicebank.bank.prompts.greedy_order`): each
   next prompt is the one adding the most denominator diphones not yet covered; ties
   go to fewer words, then fewer characters, then the earlier pool line. Once nothing
   adds a new diphone, the same rule continues for diphones seen only once, then twice.
5. Writes ``voicebank/bank/prompts/en-core.json``: the whole ordered pool with ids
   ``s0001``... and each prompt's phones, the denominator (diphone -> number of words
   containing it) and a description of how it was made. The output is deterministic
   for the same pool, word list and espeak-ng version.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import json
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
POOL = REPO / "scripts" / "data" / "prompt_pool_en.txt"
WORD_LIST = Path("/usr/share/dict/words")
OUTPUT = REPO / "voicebank" / "bank" / "prompts" / "en-core.json"
SCRIPT_NAME = "en-core"
VOICE = "en-us"

MIN_WORDS = 2
MAX_WORDS = 18
MAX_CHARS = 100
SENTENCE = re.compile(r"[A-Z][A-Za-z ,.'?!;:-]*[.?!]")
DICTIONARY_WORD = re.compile(r"[a-z]+")
# Word-list entries espeak-ng would spell out letter by letter rather than read as words.
VOWEL_LETTER = re.compile(r"[aeiouy]")
ROMAN_NUMERAL = re.compile(r"m{0,4}(cm|cd|d?c{0,3})(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})")
ROMAN_LOOKALIKES = frozenset({"mi", "mix"})  # real words that are also valid numerals


class PoolError(Exception):
    """The sentence pool breaks one of the rules above."""


def read_pool(path: Path) -> list[str]:
    """Sentences of the pool in file order, checked against the rules in the docstring."""
    sentences: list[str] = []
    problems: list[str] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = " ".join(line.split())
        if not text or text.startswith("#"):
            continue
        words = len(text.split())
        if not SENTENCE.fullmatch(text):
            problems.append(f"line {number}: odd characters or punctuation: {text!r}")
        elif not MIN_WORDS <= words <= MAX_WORDS or len(text) > MAX_CHARS:
            problems.append(f"line {number}: {words} words, {len(text)} characters: {text!r}")
        key = " ".join(re.sub(r"[^a-z' ]", " ", text.lower()).split())
        if key in first_line:
            problems.append(f"line {number}: repeats line {first_line[key]}: {text!r}")
        first_line.setdefault(key, number)
        sentences.append(text)
    if problems:
        raise PoolError("\n".join(problems))
    return sentences


class Espeak:
    """espeak-ng as bundled with piper-tts: text in, IPA out (one voice)."""

    def __init__(self, voice: str) -> None:
        from piper import espeakbridge
        from piper.phonemize_espeak import EspeakPhonemizer

        EspeakPhonemizer()  # initializes the bundled espeak-ng data
        espeakbridge.set_voice(voice)
        self._bridge = espeakbridge
        self.voice = voice
        self.version = f"piper-tts {importlib.metadata.version('piper-tts')}"

    def ipa(self, text: str) -> str:
        """IPA for ``text``; clauses joined with spaces (punctuation dropped)."""
        return " ".join(clause for clause, _, _ in self._bridge.get_phonemes(text))


def is_denominator_word(word: str) -> bool:
    """Whether a word-list entry counts: lowercase letters only, not an abbreviation or numeral."""
    if not DICTIONARY_WORD.fullmatch(word) or not VOWEL_LETTER.search(word):
        return False
    return not (len(word) > 1 and ROMAN_NUMERAL.fullmatch(word) and word not in ROMAN_LOOKALIKES)


def word_list_diphones(path: Path, espeak: Espeak) -> tuple[Counter[tuple[str, str]], int]:
    """Diphone -> number of words containing it, and the number of words used."""
    from voicebank.bank.prompts import diphones_of, tokenize_ipa

    counts: Counter[tuple[str, str]] = Counter()
    used = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        word = line.strip()
        if not is_denominator_word(word):
            continue
        phones = tokenize_ipa(espeak.ipa(word))
        if len(phones) != 1:
            continue
        counts.update(diphones_of(phones))
        used += 1
    return counts, used


def unknown_words(sentences: Sequence[str], word_list: Path) -> list[str]:
    """Pool words missing from the word list: a hint for typos, not an error."""
    known = {line.strip().lower() for line in word_list.read_text(encoding="utf-8").splitlines()}
    missing: set[str] = set()
    for text in sentences:
        for token in re.findall(r"[A-Za-z']+", text):
            word = token.lower().strip("'")
            if word and word not in known and word.removesuffix("'s") not in known:
                missing.add(word)
    return sorted(missing)


def _package_version(package: str) -> str:
    try:
        result = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return result.stdout.strip() or "unknown"


def build(pool: Path, word_list: Path) -> dict[str, Any]:
    """The script as a JSON-ready dict (see :mod:`voicebank.bank.prompts` for the format)."""
    from voicebank.bank.prompts import SCHEMA_VERSION, diphones_of, greedy_order, tokenize_ipa

    sentences = read_pool(pool)
    espeak = Espeak(VOICE)
    phones = [tokenize_ipa(espeak.ipa(text)) for text in sentences]
    counts, used = word_list_diphones(word_list, espeak)
    units = [diphones_of(words) & counts.keys() for words in phones]
    ties = [(len(text.split()), len(text), i) for i, text in enumerate(sentences)]
    order = greedy_order(units, ties)

    word_list_bytes = word_list.read_bytes()
    package = f"wamerican {_package_version('wamerican')}"
    description = (
        f"word-internal diphones (with the word boundary # at both ends of each word) of "
        f"{used:,} lowercase words from {word_list} ({package}), phonemized one by one "
        f"with espeak-ng {VOICE} ({espeak.version})"
    )
    return {
        "schema_version": SCHEMA_VERSION,
        "name": SCRIPT_NAME,
        "language": VOICE,
        "description": (
            "Everyday English sentences written for voicebank, ordered so that the "
            "earliest prompts add the most new diphones (greedy selection)."
        ),
        "phonemizer": f"espeak-ng {VOICE} ({espeak.version})",
        "ordering": (
            "greedy: most new denominator diphones first; ties to fewer words, fewer "
            "characters, earlier pool line; after full coverage, diphones seen once count "
            "as new, then twice, and so on"
        ),
        "pool": {
            "path": pool.relative_to(REPO).as_posix() if pool.is_relative_to(REPO) else str(pool),
            "sentences": len(sentences),
            "sha256": hashlib.sha256(pool.read_bytes()).hexdigest(),
        },
        "denominator": {
            "description": description,
            "word_list": str(word_list),
            "word_list_package": package,
            "word_list_sha256": hashlib.sha256(word_list_bytes).hexdigest(),
            "words": used,
            "diphones": {f"{a} {b}": n for (a, b), n in sorted(counts.items())},
        },
        "prompts": [
            {
                "id": f"s{rank:04d}",
                "text": sentences[i],
                "phones": [" ".join(word) for word in phones[i]],
            }
            for rank, i in enumerate(order, start=1)
        ],
    }


def to_json(script: dict[str, Any]) -> str:
    """Readable, diff-friendly JSON: one prompt per line."""
    head = {key: value for key, value in script.items() if key != "prompts"}
    text = json.dumps(head, ensure_ascii=False, indent=1)
    lines = [json.dumps(p, ensure_ascii=False) for p in script["prompts"]]
    text = text[: text.rindex("}")].rstrip() + ',\n "prompts": [\n  ' + ",\n  ".join(lines)
    return text + "\n ]\n}\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Build (or with ``--check``, verify) the shipped script; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", type=Path, default=POOL, help="sentence pool (text)")
    parser.add_argument(
        "--words", type=Path, default=WORD_LIST, help="word list for the denominator"
    )
    parser.add_argument("--out", type=Path, default=OUTPUT, help="JSON file to write")
    parser.add_argument("--check", action="store_true", help="only check --out is up to date")
    args = parser.parse_args(argv)

    if str(REPO) not in sys.path:
        sys.path.insert(0, str(REPO))  # a bare checkout, without `pip install -e .`
    started = time.monotonic()
    try:
        script = build(args.pool, args.words)
    except PoolError as e:
        print(f"The sentence pool needs fixing:\n{e}", file=sys.stderr)
        return 1
    text = to_json(script)
    if json.loads(text) != script:
        raise RuntimeError("JSON writer lost information")  # a bug here, not user input

    missing = unknown_words([p["text"] for p in script["prompts"]], args.words)
    if missing:
        print(
            f"note: {len(missing)} words not in {args.words}: {' '.join(missing)}", file=sys.stderr
        )
    if args.check:
        current = args.out.read_text(encoding="utf-8") if args.out.exists() else ""
        if current != text:
            print(
                f"{args.out} is out of date; run {Path(__file__).name} to rebuild", file=sys.stderr
            )
            return 1
        print(f"{args.out} is up to date")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    den = script["denominator"]
    print(
        f"wrote {len(script['prompts'])} prompts to {args.out} "
        f"(denominator: {len(den['diphones'])} diphones from {den['words']:,} words) "
        f"in {time.monotonic() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
