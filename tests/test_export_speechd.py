"""``voicebank voice export --format speech-dispatcher``: Debian's speech-dispatcher, run headless, speaks with voicebank.

The module is installed into a private configuration folder (as ``--install`` does into
~/.config), a private ``speech-dispatcher`` daemon runs on its own socket, and ``spd-say -o
voicebank`` sends it text. What comes out of the PulseAudio null sink is voicebank's: the
module's log shows the ``voicebank speak`` command it ran, and PocketSphinx hears the words.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile as sf

from tests.pulse import PulseServer, voiced_seconds
from tests.test_export_sherpa import _kokoro, _no_phoneme_map, _truncated, _xtts
from voicebank.errors import ExportError

TEXT = "It's easy to tell the depth of a well, and these days a chicken leg is a rare dish."


def test_the_export_is_a_generic_module_that_runs_voicebank_speak(home: Path, tmp_path: Path) -> None:
    from voicebank.exports import export_speechd
    from voicebank.exports.speechd import install, voicebank_program

    result = export_speechd("joe", tmp_path / "out")
    conf = (tmp_path / "out" / "voicebank-generic.conf").read_text(encoding="utf-8")
    assert result.conf.name == "voicebank-generic.conf"
    assert f"{voicebank_program()} speak --voice joe" in result.command and "$RATE" in result.command
    assert 'GenericExecuteSynth "printf %s \\\'$DATA\\\' | ' in conf and 'DefaultVoice "joe"' in conf
    assert result.add_module == 'AddModule "voicebank" "sd_generic" "voicebank-generic.conf"'
    assert result.add_module in (tmp_path / "out" / "speechd.conf.add").read_text(encoding="utf-8")
    config = tmp_path / "config" / "speech-dispatcher"
    env = dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"))
    cmd = [sys.executable, "-m", "voicebank.cli.main", "voice", "export", "joe", "--format", "speech-dispatcher",
           "--out", str(tmp_path / "again"), "--install"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0 and "spd-say -o voicebank" in proc.stdout, proc.stderr
    install(result.conf, config)  # installing again changes nothing
    assert (config / "modules" / "voicebank-generic.conf").read_text(encoding="utf-8") == conf
    assert (config / "speechd.conf").read_text(encoding="utf-8").count(result.add_module) == 1


@pytest.mark.parametrize(
    ("make", "message"),
    [(_xtts, "XTTS voice"), (_kokoro, "kokoro voice"), (_truncated, "not a readable ONNX model"), (_no_phoneme_map, "no usable phoneme map")],
)
def test_a_voice_it_cannot_speak_is_refused_and_nothing_is_written(home: Path, tmp_path: Path, make: Any, message: str) -> None:
    from voicebank.exports import export_speechd

    voice = make(tmp_path / "voice")
    with pytest.raises(ExportError, match=message):
        export_speechd(voice, tmp_path / "out", install_to=tmp_path / "config")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["voice"]


class Dispatcher:
    """A private speech-dispatcher daemon on its own socket, with its logs in ``root / "logs"``."""

    def __init__(self, root: Path, config: Path, env: dict[str, str]) -> None:
        self.logs = root / "logs"
        self.logs.mkdir()
        socket = root / "speechd.sock"
        self.env = dict(env, SPEECHD_ADDRESS=f"unix_socket:{socket}")
        self.proc = subprocess.Popen(
            ["speech-dispatcher", "--run-single", "--timeout", "0", "--config-dir", str(config),
             "--communication-method", "unix_socket", "--socket-path", str(socket),
             "--log-dir", str(self.logs), "--log-level", "4"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        deadline = time.monotonic() + 20
        while not socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"speech-dispatcher did not start:\n{self.log('speech-dispatcher')}")
            time.sleep(0.1)

    def say(self, pulse: PulseServer, text: str, *args: str) -> tuple[np.ndarray, int]:
        """``spd-say -o voicebank -w``, recording the null sink's monitor while it speaks."""
        wav = self.logs / f"heard-{time.monotonic_ns()}.wav"
        rec = subprocess.Popen(["parecord", f"--device={pulse.monitor}", "--file-format=wav", str(wav)], env=self.env)
        try:
            time.sleep(0.3)
            said = subprocess.run(["spd-say", "-o", "voicebank", "-w", *args, text], env=self.env,
                                  capture_output=True, text=True, timeout=180)
            assert said.returncode == 0, said.stderr
            time.sleep(0.5)  # the last buffer leaves the sink
        finally:
            rec.send_signal(signal.SIGINT)
            rec.wait(timeout=10)
        audio, rate = sf.read(wav, dtype="float32", always_2d=True)
        return audio.mean(axis=1), rate

    def log(self, name: str) -> str:
        path = self.logs / f"{name}.log"
        return path.read_text(errors="replace") if path.is_file() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout=10)


@pytest.mark.slow
def test_spd_say_speaks_with_voicebank_through_speech_dispatcher(
    home: Path, engine: Any, pulse_server: PulseServer, tmp_path: Path
) -> None:
    from voicebank.engines import SynthesisOptions
    from voicebank.exports import export_speechd
    from voicebank.train.metrics import Recognizer, word_errors

    if not shutil.which("speech-dispatcher") or not shutil.which("spd-say"):
        pytest.skip("speech-dispatcher is not installed (apt-get install speech-dispatcher; install.sh does)")
    engine.load()  # the cut graphs are cached in VOICEBANK_HOME now: voicebank speak starts quickly
    config = tmp_path / "config"
    result = export_speechd("joe", tmp_path / "out", install_to=config)
    module = config / "modules" / "voicebank-generic.conf"
    module.write_text(module.read_text(encoding="utf-8").replace("Debug 0", "Debug 1"))  # log the command
    daemon = Dispatcher(tmp_path, config, dict(pulse_server.env, VOICEBANK_HOME=str(home)))
    try:
        heard, rate = daemon.say(pulse_server, TEXT)
        quick, _ = daemon.say(pulse_server, TEXT, "-r", "100")
    finally:
        daemon.stop()

    commands = re.findall(r"synth command = \|(.*)\|", daemon.log("voicebank"))
    assert len(commands) == 2, daemon.log("voicebank")[-3000:]
    program = result.command.split(" speak ")[0].split("| ")[-1]
    quoted = TEXT.replace("'", "'\\''")  # speech-dispatcher's own quoting of the text
    assert commands[0].startswith(f"printf %s '{quoted}' | {program} speak --voice joe"), commands[0]
    assert "2 ^ (0 / 100)" in commands[0] and "2 ^ (100 / 100)" in commands[1]  # rate 0 → speed 1, +100 → 2

    ours = engine.synthesize(TEXT, SynthesisOptions()).samples.reshape(-1)
    spoken, reference = voiced_seconds(heard, rate), voiced_seconds(ours, 22050)
    assert abs(spoken - reference) <= 0.25 * reference, (spoken, reference)
    assert 0.35 * spoken <= voiced_seconds(quick, rate) <= 0.75 * spoken  # pauses shrink less than speech
    transcript = Recognizer().transcribe(heard, rate)
    wrong, words = word_errors(TEXT, transcript)
    assert wrong / words <= 0.5, transcript  # the sentence, not just any speech (the noise is on: coarse)
