"""The phoneme alphabet of Piper voices: its special symbols, the 256-symbol table, ids of a sentence.

Piper's English voices use a 151-entry ``phoneme_id_map`` (``_`` 0 pad, ``^`` 1 start,
``$`` 2 end, space 3, …) in a 256-row embedding, and a sentence becomes
``^ _ p1 _ p2 … pn _ $``. The engine, the trainer and the exporter all take the alphabet
from here, so an exported voice runs in Piper and in our engine.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

from ..errors import VoicebankError

PAD, BOS, EOS = "_", "^", "$"
PIPER_SYMBOLS = 151  # ids 0..150: the map of Piper's English voices (joe, lessac, …)
NUM_SYMBOLS = 256  # rows of the phoneme embedding in Piper voices
_PLACEHOLDER = 0xE000  # private-use code points stand in for the unused ids 151..255


@functools.lru_cache(maxsize=1)
def piper_symbols() -> tuple[str, ...]:
    """The symbol of each id 0..255: Piper's map for ids 0..150, placeholders after."""
    from piper.phoneme_ids import DEFAULT_PHONEME_ID_MAP

    by_id: dict[int, str] = {}
    for symbol, ids in DEFAULT_PHONEME_ID_MAP.items():
        if len(ids) == 1 and ids[0] < PIPER_SYMBOLS:
            by_id[ids[0]] = symbol
    if sorted(by_id) != list(range(PIPER_SYMBOLS)) or by_id[0] != PAD or by_id[1] != BOS or by_id[2] != EOS:
        raise VoicebankError(
            "The installed piper-tts has an unexpected phoneme map (ids 0-150 changed); "
            "install the piper-tts version voicebank was tested with (1.8)."
        )
    return tuple(by_id[i] for i in range(PIPER_SYMBOLS)) + tuple(
        chr(_PLACEHOLDER + i) for i in range(NUM_SYMBOLS - PIPER_SYMBOLS)
    )


def piper_phoneme_id_map() -> dict[str, list[int]]:
    """Piper's ``phoneme_id_map`` for the 151 real symbols (what an exported voice's config holds)."""
    return {s: [i] for i, s in enumerate(piper_symbols()[:PIPER_SYMBOLS])}


def phoneme_ids(phonemes: Sequence[str], id_map: Mapping[str, Sequence[int]]) -> tuple[list[int], list[int]]:
    """Ids ``^ _ p1 _ … pn _ $`` and, per phoneme, the id count up to and including its pad.

    Phonemes the map does not know are skipped (as Piper does); they still get an entry
    in the second list, so it lines up with ``phonemes``.
    """
    pad = list(id_map.get(PAD, [0]))
    ids: list[int] = list(id_map.get(BOS, [])) + pad
    ends = []
    for p in phonemes:
        mapped = id_map.get(p)
        if mapped:
            ids.extend(mapped)
            ids.extend(pad)
        ends.append(len(ids))
    ids.extend(id_map.get(EOS, []))
    return ids, ends
