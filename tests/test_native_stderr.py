"""C libraries' writes to fd 2 stay off the screen while Python's own stderr still reaches it."""

from __future__ import annotations

import subprocess
import sys

CODE = r"""
import os, sys
from voicebank.native_stderr import NativeStderr

with NativeStderr() as native:
    os.write(2, b"ALSA lib pulse.c:242:(pulse_connect) PulseAudio: Unable to connect\n")  # as C code writes
    print("from python", file=sys.stderr)
    print("captured:", native.tail())
os.write(2, b"fd 2 is back\n")
"""


def test_fd2_is_captured_and_python_stderr_still_shows() -> None:
    proc = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "ALSA lib" not in proc.stderr
    assert "from python" in proc.stderr and "fd 2 is back" in proc.stderr
    assert "captured: ['ALSA lib pulse.c:242" in proc.stdout
