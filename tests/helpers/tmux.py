"""A private tmux server running one command: keys in with send-keys, the screen back with capture-pane."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import pytest


class Tmux:
    """One private tmux server running one command in a 120x40 window."""

    def __init__(self, env: dict[str, str], command: list[str], cwd: Path) -> None:
        if not shutil.which("tmux"):
            pytest.skip("tmux is not installed")
        self.socket = str(cwd / f"tmux-{uuid.uuid4().hex[:8]}")  # a private server, its socket in tmp_path
        self.env = dict(env, LANG="C.UTF-8", TERM="xterm-256color")
        pass_env = [a for k in ("HOME", "XDG_RUNTIME_DIR", "PULSE_SERVER", "LANG", "VOICEBANK_HOME", "PATH")
                    if k in self.env for a in ("-e", f"{k}={self.env[k]}")]
        self._tmux("new-session", "-d", "-x", "120", "-y", "40", "-c", str(cwd), *pass_env,
                   " ".join(shlex.quote(c) for c in command) + "; echo EXITED $?; sleep 60")

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-u", "-f", "/dev/null", "-S", self.socket, *args], env=self.env,
                              check=True, capture_output=True, text=True, timeout=10).stdout

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p")

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", *keys)

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if text in screen:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not appear on the screen within {timeout} s:\n{screen}")
            time.sleep(0.1)

    def pid(self) -> int:
        """The pane's shell; the recorder is its child."""
        return int(self._tmux("display-message", "-p", "#{pane_pid}").strip())

    def close(self) -> None:
        subprocess.run(["tmux", "-S", self.socket, "kill-server"], env=self.env, capture_output=True, timeout=10,
                       check=False)
