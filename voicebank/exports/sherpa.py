"""``voicebank voice export --format sherpa-onnx``: a Piper voice as the folder sherpa-onnx TTS engines load.

The folder (written whole or not at all)::

    model.onnx        the voice's graph, unchanged, with the metadata sherpa-onnx reads
                      (model_type vits, comment piper, language, voice, sample_rate, n_speakers, ...)
    model.onnx.json   the Piper config as it was (Piper and Home Assistant read it too)
    tokens.txt        "phoneme id" lines from the config's phoneme_id_map
    lexicon.txt       "words || phonemes" lines (sherpa-onnx 2.x reads words only through it)
    espeak-ng-data/   espeak-ng's data (sherpa-onnx 1.x phonemizes with it; 2.x ignores it)
    lang              the ISO 639-2 language code (SherpaTTS reads it when a voice is side-loaded)
    voicebank-export.json   what was exported, from what, and the voice's inference settings
    card.json         the voice's card: speaker, consent, training data, licence (voicebank.voice.card)

The source voice is only read.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..durable import atomic_write_json, atomic_write_text
from ..errors import ExportError
from ..voice.registry import VoiceRef, file_sha256
from .source import SourceVoice, check_onnx, check_out, check_phoneme_map, piper_voice, staged_folder, write_card_copy
from .word_lexicon import (
    WORD_LIST,
    LexiconFile,
    Progress,
    cached_word_entries,
    lexicon_lines,
    user_entries,
)

FORMAT = "sherpa-onnx"
SCHEMA_VERSION = 1
MODEL_NAME = "model.onnx"
_PUNCTUATION = ",;:.!?¡¿—…"
_ISO639_2 = {  # Piper's language families → the three-letter codes Android voice pickers use
    "ar": "ara", "ca": "cat", "cs": "ces", "cy": "cym", "da": "dan", "de": "deu", "el": "ell", "en": "eng",
    "es": "spa", "fa": "fas", "fi": "fin", "fr": "fra", "hu": "hun", "is": "isl", "it": "ita", "ka": "kat",
    "kk": "kaz", "lb": "ltz", "ne": "nep", "nl": "nld", "no": "nor", "pl": "pol", "pt": "por", "ro": "ron",
    "ru": "rus", "sk": "slk", "sr": "srp", "sv": "swe", "sw": "swa", "tr": "tur", "uk": "ukr", "vi": "vie",
    "zh": "zho",
}


@dataclass(frozen=True)
class SherpaExport:
    """Where the export went and what it holds."""

    out: Path
    voice: str
    metadata: dict[str, str]
    tokens: int
    lexicon: LexiconFile
    espeak_data: bool

    @property
    def model(self) -> Path:
        return self.out / MODEL_NAME


def export_sherpa(
    ref: VoiceRef,
    out: str | Path,
    *,
    word_list: Path = WORD_LIST,
    espeak_data: bool = True,
    progress: Progress | None = None,
) -> SherpaExport:
    """Write ``out`` for sherpa-onnx from a Piper-format voice; refuse (writing nothing) what cannot be converted."""
    from ..engines.phonemize import make_phonemizer

    out = check_out(Path(out))  # before any work: an export never mixes with older files
    voice = piper_voice(ref, FORMAT)
    tokens = check_phoneme_map(voice, FORMAT)
    model = check_onnx(voice.files.model)
    phonemizer = make_phonemizer("auto")  # the espeak-ng voicebank's engine speaks with
    data_dir = Path(phonemizer.data_dir)
    if espeak_data and not (data_dir / "phontab").is_file():
        raise ExportError(
            f"espeak-ng's data folder {data_dir} is incomplete (no phontab); reinstall piper-tts, "
            "or leave the folder out with --no-espeak-data (sherpa-onnx 2.x hosts do not need it)."
        )
    text, lexicon = _lexicon(voice, tokens, phonemizer, Path(word_list), progress)
    lexicon = replace(lexicon, path=out / "lexicon.txt")
    metadata = sherpa_metadata(voice)
    with staged_folder(out) as tmp:
        _write_model(model, metadata, tmp / MODEL_NAME)
        shutil.copyfile(voice.files.config, tmp / f"{MODEL_NAME}.json")
        atomic_write_text(tmp / "tokens.txt", tokens_text(tokens))
        atomic_write_text(tmp / "lexicon.txt", text)
        code = _ISO639_2.get(str(voice.config.language.get("family") or voice.config.espeak_voice.split("-")[0]).lower())
        if code:
            atomic_write_text(tmp / "lang", code)  # the bare code, as SherpaTTS side-loading reads it
        if espeak_data:
            shutil.copytree(data_dir, tmp / "espeak-ng-data")
        atomic_write_json(tmp / "voicebank-export.json", _manifest(voice, metadata, lexicon, espeak_data))
        write_card_copy(voice, tmp, FORMAT)
    return SherpaExport(out, voice.name, metadata, len(tokens), lexicon, espeak_data)


def _lexicon(
    voice: SourceVoice, tokens: dict[str, int], phonemizer: Any, word_list: Path, progress: Progress | None
) -> tuple[str, LexiconFile]:
    """lexicon.txt's text: the (cached) word list, then the voice's own lexicon over it, by our espeak-ng."""
    from ..text.lexicon import Lexicon

    espeak = voice.config.espeak_voice

    def say(text: str) -> str:
        return " ".join("".join(s).strip() for s in phonemizer.phonemize(espeak, text)).strip()

    words = cached_word_entries(word_list, f"{phonemizer.description}|{espeak}|{''.join(sorted(tokens))}", say, progress)
    mine, skipped = user_entries(Lexicon.for_voice(voice.lexicon_folder), say)
    lines = lexicon_lines({**words, **mine}, set(tokens))
    text = (
        f"# {voice.name}: {len(lines)} entries ({len(mine)} from the voice's own lexicon), espeak-ng voice {espeak}.\n"
        "# Format of sherpa-onnx 2.x: words || phonemes (IPA code points). Made by voicebank.\n"
    ) + "".join(line + "\n" for line in lines)
    return text, LexiconFile(
        path=Path("lexicon.txt"),
        entries=len(lines),
        words=len(words),
        user_entries=len(mine),
        skipped=tuple(skipped),
        size_bytes=len(text.encode("utf-8")),
        word_list=str(word_list),
    )


def sherpa_metadata(voice: SourceVoice) -> dict[str, str]:
    """The ONNX metadata sherpa-onnx's VITS loader reads for a Piper voice (all values as strings)."""
    cfg = voice.config
    family = str(cfg.language.get("family") or cfg.espeak_voice.split("-")[0])
    present = "".join(c for c in _PUNCTUATION if c in cfg.phoneme_id_map)
    return {
        "model_type": "vits",
        "comment": "piper",  # sherpa-onnx treats the graph as a Piper voice (ids ^ _ p _ ... $)
        "language": str(cfg.language.get("name_english") or family),
        "voice": cfg.espeak_voice,  # the espeak-ng voice sherpa-onnx 1.x phonemizes with
        "has_espeak": "1",
        "add_blank": "0",  # Piper's ids already interleave the pad; a blank would double it
        "n_speakers": str(cfg.num_speakers),
        "sample_rate": str(cfg.sample_rate),
        "punctuation": " ".join(present),
        "version": "1",
    }


def tokens_text(tokens: dict[str, int]) -> str:
    """``symbol id`` lines by id (the space symbol's line starts with a space: sherpa-onnx reads it so)."""
    return "".join(f"{symbol} {i}\n" for symbol, i in sorted(tokens.items(), key=lambda kv: kv[1]))


def _write_model(model: Any, metadata: dict[str, str], path: Path) -> None:
    import onnx

    keep = [(p.key, p.value) for p in model.metadata_props if p.key not in metadata]
    del model.metadata_props[:]
    for key, value in [*keep, *metadata.items()]:
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(path))


def _manifest(voice: SourceVoice, metadata: dict[str, str], lexicon: LexiconFile, espeak_data: bool) -> dict[str, Any]:
    cfg = voice.config
    return {
        "schema_version": SCHEMA_VERSION,
        "format": FORMAT,
        "voice": voice.name,
        "source_model": str(voice.files.model),
        "source_sha256": file_sha256(voice.files.model),
        "metadata": metadata,
        # sherpa-onnx takes these from its own settings, not from the model: set them there.
        "inference": {"noise_scale": cfg.noise_scale, "length_scale": cfg.length_scale, "noise_scale_w": cfg.noise_w_scale},
        "lexicon": {
            "entries": lexicon.entries,
            "words_from_word_list_and_numbers": lexicon.words,
            "entries_from_voice_lexicon": lexicon.user_entries,
            "skipped_voice_entries": list(lexicon.skipped),
            "word_list": lexicon.word_list,
            "bytes": lexicon.size_bytes,
        },
        "espeak_ng_data": espeak_data,
    }
