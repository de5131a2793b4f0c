"""A private PulseAudio server with a null sink: real, paced audio devices without a sound card.

Anything played into the sink ``nullsink`` comes out of its monitor ``nullsink.monitor``,
which is the default input, so a test can play a WAV and record what a program heard
(see DESIGN.md, "Audio in tests without a sound card").

Use the fixture by name (it is registered in ``tests/conftest.py``)::

    def test_something(pulse_server):
        pulse_server.play(path)          # paplay into the sink, waits until played
        subprocess.run(cmd, env=pulse_server.env)

While the fixture is active, this process's environment points at the private server
(``HOME``, ``XDG_RUNTIME_DIR``, ``PULSE_SERVER``) and sounddevice, if imported, has
re-read the device list. The server is killed at teardown; one server serves a module.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

SINK = "nullsink"
MONITOR = "nullsink.monitor"
_START_TIMEOUT_S = 15.0


@dataclass
class PulseServer:
    """A running private PulseAudio daemon."""

    root: Path
    env: dict[str, str]  # the whole environment to hand to subprocesses
    process: subprocess.Popen[bytes]
    sink: str = SINK
    monitor: str = MONITOR

    def pactl(self, *args: str) -> str:
        return subprocess.run(["pactl", *args], env=self.env, check=True, capture_output=True, text=True,
                              timeout=10).stdout

    def play(self, path: str | Path, *, wait: bool = True) -> subprocess.Popen[bytes]:
        """Play a sound file into the null sink (paced: takes as long as the sound)."""
        proc = subprocess.Popen(["paplay", f"--device={self.sink}", str(path)], env=self.env)
        if wait:
            proc.wait(timeout=120)
        return proc

    def kill(self) -> None:
        """SIGKILL the daemon, as a crash would (its clients see their streams end)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def restart(self) -> None:
        """Start a fresh daemon on the same socket (after :meth:`kill`)."""
        self.kill()
        self.process = start_pulse(self.root).process

    def log(self) -> str:
        try:
            return (self.root / "pulseaudio.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""


def _missing() -> str | None:
    if not shutil.which("pulseaudio"):
        return "pulseaudio is not installed (apt-get install pulseaudio pulseaudio-utils libasound2-plugins)"
    if not shutil.which("paplay") or not shutil.which("pactl"):
        return "pulseaudio-utils (paplay, pactl) is not installed"
    if not glob.glob("/usr/lib/*/alsa-lib/libasound_module_pcm_pulse.so") and not glob.glob(
        "/usr/lib*/alsa-lib/libasound_module_pcm_pulse.so"
    ):
        return "the ALSA PulseAudio plugin is not installed (apt-get install libasound2-plugins)"
    return None


def reload_sounddevice() -> None:
    """PortAudio reads the ALSA configuration once: make an imported sounddevice look again."""
    sd = sys.modules.get("sounddevice")
    if sd is not None:
        sd._terminate()
        sd._initialize()


def start_pulse(root: Path) -> PulseServer:
    """Start a daemon whose files all live under ``root``; raise if it does not answer."""
    runtime = root / "pulse"
    runtime.mkdir(parents=True, exist_ok=True)
    socket = runtime / "native"
    (root / ".asoundrc").write_text("pcm.!default { type pulse }\nctl.!default { type pulse }\n")
    env = dict(os.environ, HOME=str(root), XDG_RUNTIME_DIR=str(runtime), PULSE_SERVER=f"unix:{socket}")
    env.setdefault("LANG", "C.UTF-8")
    log = open(root / "pulseaudio.log", "wb")
    proc = subprocess.Popen(
        [
            "pulseaudio", "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
            f"--load=module-null-sink sink_name={SINK}",
            f"--load=module-native-protocol-unix socket={socket} auth-anonymous=1",
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    log.close()
    server = PulseServer(root, env, proc)
    deadline = time.monotonic() + _START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        ok = subprocess.run(["pactl", "info"], env=env, capture_output=True, timeout=10, check=False).returncode == 0
        if ok:
            return server
        time.sleep(0.1)
    stop_pulse(server)
    raise RuntimeError(f"the private PulseAudio server did not start; its log ends with:\n{server.log()}")


def stop_pulse(server: PulseServer) -> None:
    proc = server.process
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


@pytest.fixture(scope="module")
def pulse_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PulseServer]:
    """A private PulseAudio server with a null sink; this process's audio goes through it."""
    reason = _missing()
    if reason:
        pytest.skip(reason)
    # A short path: the socket path must fit in sun_path (108 bytes).
    root = Path(tmp_path_factory.mktemp("pulse"))
    server = start_pulse(root)
    with pytest.MonkeyPatch.context() as mp:
        for key in ("HOME", "XDG_RUNTIME_DIR", "PULSE_SERVER"):
            mp.setenv(key, server.env[key])
        reload_sounddevice()
        try:
            yield server
        finally:
            stop_pulse(server)
    reload_sounddevice()


def correlate_audio(
    captured: np.ndarray, captured_rate: int, reference: np.ndarray, reference_rate: int, rate: int = 16000
) -> tuple[float, float, float]:
    """How well a recording matches a reference: (correlation, lag in s, overlap fraction).

    Both are mixed to mono and resampled to ``rate``; the lag is the cross-correlation
    peak, and the correlation is Pearson's r over the overlap at that lag (1.0: the same
    waveform). ``overlap`` is the share of the reference that the recording holds.
    """
    from scipy.signal import correlate, resample_poly

    def mono(x: np.ndarray, r: int) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        x = x.mean(axis=1) if x.ndim == 2 else x
        g = np.gcd(int(r), int(rate))
        return resample_poly(x, rate // g, int(r) // g)

    y, x = mono(captured, captured_rate), mono(reference, reference_rate)
    c = correlate(y, x, mode="full", method="fft")
    k = int(np.argmax(np.abs(c)))
    lag = k - (len(x) - 1)
    a, b = max(lag, 0), max(-lag, 0)
    n = min(len(y) - a, len(x) - b)
    if n <= 0:
        return 0.0, lag / rate, 0.0
    ys, xs = y[a : a + n], x[b : b + n]
    r = float(np.corrcoef(ys, xs)[0, 1])
    return r, lag / rate, n / len(x)


def voiced_seconds(x: np.ndarray, rate: int, threshold: float = 0.005) -> float:
    """How many seconds of a recording carry sound (20 ms frames whose RMS passes ``threshold``)."""
    frame = rate // 50
    n = len(x) // frame
    energy = np.sqrt(np.mean(np.asarray(x[: n * frame], dtype=np.float64).reshape(n, frame) ** 2, axis=1))
    return float(np.count_nonzero(energy > threshold)) / 50.0
