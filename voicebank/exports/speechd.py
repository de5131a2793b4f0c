"""``voicebank voice export --format speech-dispatcher``: a generic-module configuration that speaks with voicebank.

speech-dispatcher's ``sd_generic`` module runs one shell command per message; ours pipes the
text into ``voicebank speak``, which synthesizes with voicebank's streaming engine and plays
through the default sound device (PulseAudio/PipeWire), so the first words sound long before
the message is done. speech-dispatcher stops a message by killing the command's process group.

Rate is mapped (speech-dispatcher's -100…+100 → ``--speed`` 0.5…2, exponentially: 0 is the
voice's own pace); pitch and volume are not (voicebank speaks the person's voice as it is).

Files written to ``out`` (all or nothing): ``voicebank-generic.conf`` (the module),
``speechd.conf.add`` (the ``AddModule`` line for speechd.conf), ``voicebank-export.json`` and
``card.json`` (the voice's card: speaker, consent, licence).
:func:`install` puts them in the user's ``~/.config/speech-dispatcher/``.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from ..durable import atomic_write_json, atomic_write_text
from ..errors import ExportError
from ..voice.registry import VoiceRef
from .source import (
    SourceVoice, check_onnx, check_out, piper_voice, require_phoneme_map, staged_folder, write_card_copy,
)

FORMAT = "speech-dispatcher"
MODULE = "voicebank"
CONF_NAME = f"{MODULE}-generic.conf"
SCHEMA_VERSION = 1
_LANGUAGES = {"en": "en", "en-us": "en-US", "en-gb": "en-GB"}


@dataclass(frozen=True)
class SpeechdExport:
    """The written configuration and the command speech-dispatcher will run."""

    out: Path
    voice: str
    conf: Path
    add_module: str  # the line for speechd.conf
    command: str  # GenericExecuteSynth, before speech-dispatcher fills in $DATA and $RATE
    installed: Path | None = None


def export_speechd(
    ref: VoiceRef, out: str | Path, *, program: str | None = None, install_to: Path | None = None
) -> SpeechdExport:
    """Write the module configuration for voice ``ref`` to ``out`` (and, with ``install_to``, install it there)."""
    check_out(Path(out))  # before any work: an export never mixes with older files
    voice = piper_voice(ref, FORMAT)
    require_phoneme_map(voice)
    check_onnx(voice.files.model)  # a damaged graph would fail at every message: refuse it now
    program = program or voicebank_program()
    command = synth_command(program, voice_argument(voice))
    conf_text = module_conf(voice, command)
    add = add_module_line()
    out = Path(out)
    with staged_folder(out) as tmp:
        atomic_write_text(tmp / CONF_NAME, conf_text)
        atomic_write_text(tmp / "speechd.conf.add", f"# Add to ~/.config/speech-dispatcher/speechd.conf:\n{add}\n")
        atomic_write_json(tmp / "voicebank-export.json", {
            "schema_version": SCHEMA_VERSION, "format": FORMAT, "voice": voice.name,
            "source_model": str(voice.files.model), "module": MODULE, "command": command,
        })
        write_card_copy(voice, tmp, FORMAT)
    installed = install(out / CONF_NAME, install_to) if install_to is not None else None
    return SpeechdExport(out, voice.name, out / CONF_NAME, add, command, installed)


def voicebank_program() -> str:
    """How to start this voicebank from a shell that has none of our environment (an absolute path)."""
    beside = Path(sys.executable).with_name("voicebank")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("voicebank")
    if found:
        return str(Path(found).resolve())
    return f"{sys.executable} -m voicebank.cli.main"


def voice_argument(voice: SourceVoice) -> str:
    """What ``--voice`` gets: ``joe`` for the stock voice, else the model's absolute path."""
    return "joe" if voice.files.stock else str(voice.files.model.resolve())


def synth_command(program: str, voice: str) -> str:
    """The shell command for one message: text on standard input, rate → ``--speed`` (2^(rate/100))."""
    exe = program if " -m " in program else shlex.quote(program)
    return (
        f"printf %s '$DATA' | {exe} speak --voice {shlex.quote(voice)} "
        "--speed \"$(awk 'BEGIN { print 2 ^ ($RATE / 100) }')\" -"
    )


def module_conf(voice: SourceVoice, command: str) -> str:
    """The generic module's configuration file (speech-dispatcher's dotconf syntax)."""
    cfg = voice.config
    lang = _LANGUAGES.get(cfg.espeak_voice.lower(), cfg.espeak_voice.split("-")[0])
    escaped = command.replace("\\", "\\\\").replace('"', '\\"').replace("'", "\\'")
    return "\n".join([
        f"# speech-dispatcher module: speak with voicebank's voice {voice.name!r}.",
        "# Made by 'voicebank voice export --format speech-dispatcher'. Select it with",
        f"#   spd-say -o {MODULE} \"Hello\"    or in Orca: Preferences > Voice > Speech synthesizer: {MODULE}",
        "Debug 0",
        "",
        "# One message: the text on voicebank's standard input; speech-dispatcher's rate",
        "# (-100..100, passed through unchanged below) becomes --speed 0.5..2.",
        f"GenericExecuteSynth \"{escaped}\"",
        "GenericRateAdd 0",
        "GenericRateMultiply 100",  # in hundredths: x1.00
        "GenericRateForceInteger 1",
        "GenericPitchAdd 0",
        "GenericPitchMultiply 100",
        "GenericVolumeAdd 0",
        "GenericVolumeMultiply 100",
        # Sentences as they come: voicebank streams within a sentence, so no need to cut more.
        "GenericMaxChunkLength 4000",
        "GenericDelimiters \".?!;\"",
        "",
        f"AddVoice \"{lang}\" \"MALE1\" \"{voice.name}\"",
        f"AddVoice \"{lang}\" \"FEMALE1\" \"{voice.name}\"",
        f"DefaultVoice \"{voice.name}\"",
        "",
    ])


def add_module_line() -> str:
    return f'AddModule "{MODULE}" "sd_generic" "{CONF_NAME}"'


def user_config_dir() -> Path:
    """``~/.config/speech-dispatcher`` (or under ``$XDG_CONFIG_HOME``), where a user's modules go."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "speech-dispatcher"


def install(conf: Path, config_dir: Path) -> Path:
    """Copy the module into ``config_dir/modules`` and add its ``AddModule`` line to ``config_dir/speechd.conf``.

    A user's speechd.conf replaces the system one, so a missing one starts as a copy of
    ``/etc/speech-dispatcher/speechd.conf``; a line already there is not added twice.
    """
    modules = config_dir / "modules"
    try:
        modules.mkdir(parents=True, exist_ok=True)
        atomic_write_text(modules / CONF_NAME, conf.read_text(encoding="utf-8"))
        main = config_dir / "speechd.conf"
        system = Path("/etc/speech-dispatcher/speechd.conf")
        text = main.read_text(encoding="utf-8") if main.is_file() else (
            system.read_text(encoding="utf-8") if system.is_file() else ""
        )
    except OSError as exc:
        raise ExportError(f"Cannot install the module into {config_dir}: {exc.strerror or exc}.") from exc
    line = add_module_line()
    if line not in text.splitlines():
        text = text.rstrip("\n") + f"\n\n# voicebank's voice (added by 'voicebank voice export --install')\n{line}\n"
        atomic_write_text(main, text)
    return modules / CONF_NAME
