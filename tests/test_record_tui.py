"""The real ``voicebank record`` command in a real terminal (tmux), with a real microphone.

The microphone is the monitor of a private PulseAudio null sink; "speaking" is playing
an LJSpeech sentence into that sink. Keys go in with ``tmux send-keys``; the screen comes
back with ``tmux capture-pane``; the bank is then opened to check what it holds.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import soundfile as sf

from tests.pulse import PulseServer, correlate_audio
from voicebank.bank.store import Bank

CLIP = "LJ001-0002.wav"  # 1.9 s
LONG_CLIP = "LJ001-0001.wav"  # 9.7 s
VOICEBANK = Path(sys.executable).with_name("voicebank")

from tests.helpers.tmux import Tmux  # noqa: E402


def _recorder_pid(shell_pid: int, timeout: float = 10.0) -> int:
    """The voicebank process under the pane's shell, found in /proc (``ps`` cuts long command lines to
    $COLUMNS, so a deep checkout path would hide the word "record")."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                ppid = int(stat.read_text().rpartition(")")[2].split()[1])
                args = stat.with_name("cmdline").read_bytes().split(b"\0")
            except (OSError, ValueError, IndexError):
                continue  # the process ended while we looked
            words = [a.decode(errors="replace") for a in args]
            if ppid == shell_pid and any("voicebank" in w for w in words) and "record" in words:
                return int(stat.parent.name)
        time.sleep(0.1)
    raise AssertionError("the voicebank process was not found")


@pytest.fixture
def bank_path(tmp_path: Path) -> Path:
    path = tmp_path / "bank"
    Bank.create(path, speaker="Test").close()
    return path


def _start(pulse_server: PulseServer, bank_path: Path, *extra: str) -> Tmux:
    env = dict(pulse_server.env, VOICEBANK_HOME=str(bank_path.parent / "home"))
    cmd = [str(VOICEBANK) if VOICEBANK.exists() else sys.executable, *([] if VOICEBANK.exists() else
           ["-m", "voicebank.cli.main"]), "record", str(bank_path), *extra]
    return Tmux(env, cmd, bank_path.parent)


def _record_clip(t: Tmux, pulse_server: PulseServer, wav: Path) -> str:
    t.keys("Space")
    t.wait_for("RECORDING")
    pulse_server.play(wav)
    time.sleep(0.3)
    t.keys("Space")
    return t.wait_for("saved)")


@pytest.mark.slow
def test_record_accept_redo_skip_quit_resume(pulse_server: PulseServer, ljspeech: Path, bank_path: Path) -> None:
    wav = ljspeech / "wavs" / CLIP
    t = _start(pulse_server, bank_path)
    try:
        screen = t.wait_for("Press SPACE to record", timeout=30)
        assert "prompt 1 of 1625 (s0001)" in screen
        assert "The graduation ceremony was long, but I loved every minute." in screen  # the exact text
        assert "█" in screen  # ...under the same text in large letters
        assert "Done 0 of 1625" in screen

        screen = _record_clip(t, pulse_server, wav)  # record
        assert "✔ Good take." in screen and "s0001.t01" in screen
        t.keys("p")  # play it back
        t.wait_for("Playing s0001.t01")
        t.keys("p")  # and stop
        t.wait_for("✔ Good take.")
        t.keys("a")  # accept
        screen = t.wait_for("Done 1 of 1625")  # the screen is drawn top to bottom: wait for the end
        assert "prompt 2 of 1625 (s0002)" in screen and "Kept s0001.t01." in screen
        assert "sound coverage" in screen

        _record_clip(t, pulse_server, wav)
        t.keys("r")  # redo: the first take is kept, unused, and recording starts again
        screen = t.wait_for("s0002.t01 is kept but not used")
        assert "RECORDING" in screen
        pulse_server.play(wav)
        time.sleep(0.3)
        t.keys("Space")
        screen = t.wait_for("s0002.t02")
        t.keys("s")  # skip
        screen = t.wait_for("Skipped s0002")
        assert "prompt 3 of 1625 (s0003)" in screen
        t.keys("q")  # quit
        screen = t.wait_for("EXITED 0")
        assert "Saved 3 takes this session (1 kept)." in screen
        assert "Next time you start at s0003" in screen
        assert "Traceback" not in screen
    finally:
        t.close()

    with Bank.open(bank_path, writable=False) as bank:
        assert bank.chosen == {"s0001": "s0001.t01"}
        assert bank.takes["s0001.t01"].status == "accepted"
        assert [(k.id, k.status) for k in bank.takes_for("s0002")] == [("s0002.t01", "pending"),
                                                                        ("s0002.t02", "pending")]
        assert bank.flags == {"s0002": "skipped"}
        take = bank.takes["s0001.t01"]
        samples, rate = bank.read_take(take)
    ref, ref_rate = sf.read(wav, dtype="float32")
    r, _, _ = correlate_audio(samples, rate, ref, ref_rate)
    assert r > 0.95, r

    # Resume: the next session starts at the first prompt without a chosen take, past the skipped one.
    t = _start(pulse_server, bank_path, "--break-minutes", "0.02")
    try:
        screen = t.wait_for("Press SPACE to record", timeout=30)
        assert "prompt 3 of 1625 (s0003)" in screen and "Done 1 of 1625" in screen
        t.wait_for("Time for a break")  # after 1.2 s here, 20 minutes by default
        t.keys("c")
        t.wait_for("Carrying on")
        t.keys("b")  # back goes to the prompt above
        screen = t.wait_for("prompt 2 of 1625 (s0002)")
        assert "skipped before" in screen and "2 earlier takes kept" in screen
        t.keys("q")
        t.wait_for("EXITED 0")
    finally:
        t.close()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM], ids=["SIGHUP", "SIGTERM"])
def test_terminal_closed_while_recording_keeps_the_take(
    pulse_server: PulseServer, ljspeech: Path, bank_path: Path, sig: signal.Signals
) -> None:
    """Hands-free mode hears the speech and starts by itself; then the window is closed (SIGHUP)
    or the system asks the program to stop (SIGTERM): the take is finished and saved."""
    wav = ljspeech / "wavs" / LONG_CLIP
    t = _start(pulse_server, bank_path, "--mode", "auto")
    try:
        t.wait_for("Listening", timeout=30)
        pid = _recorder_pid(t.pid())
        player = pulse_server.play(wav, wait=False)
        t.wait_for("RECORDING")
        time.sleep(2.0)
        os.kill(pid, sig)  # SIGHUP is what closing the terminal window sends
        _wait_gone(pid)
        player.terminate()
        player.wait(timeout=10)
    finally:
        t.close()
    with Bank.open(bank_path, writable=False) as bank:
        [take] = bank.takes_for("s0001")
        assert take.status == "pending" and take.source.startswith("microphone:")
        assert 1.5 < take.duration < 6.0, take.duration
        samples, rate = bank.read_take(take)
    assert not any((bank_path / ".inprogress").glob("*.wav"))
    ref, ref_rate = sf.read(wav, dtype="float32")
    r, _, _ = correlate_audio(samples, rate, ref[: int(take.duration * ref_rate)], ref_rate)
    assert r > 0.9, r


@pytest.mark.slow
def test_killed_while_recording_is_recovered_next_session(
    pulse_server: PulseServer, ljspeech: Path, bank_path: Path
) -> None:
    wav = ljspeech / "wavs" / LONG_CLIP
    t = _start(pulse_server, bank_path)
    try:
        t.wait_for("Press SPACE to record", timeout=30)
        pid = _recorder_pid(t.pid())
        t.keys("Space")
        t.wait_for("RECORDING")
        player = pulse_server.play(wav, wait=False)
        time.sleep(2.5)
        os.kill(pid, signal.SIGKILL)  # no chance to save anything
        _wait_gone(pid)
        player.terminate()
        player.wait(timeout=10)
    finally:
        t.close()
    with Bank.open(bank_path, writable=False) as bank:
        assert bank.takes == {}  # the bank never heard of the take...
    assert list((bank_path / ".inprogress").glob("*.wav"))  # ...but the spool has it

    t = _start(pulse_server, bank_path)
    try:
        # The recovered take is the one on screen, ready to be heard, kept or recorded again.
        screen = t.wait_for("saved)", timeout=30)
        assert "Recovered 1 recording from an interrupted session (s0001)" in screen
        assert "prompt 1 of 1625 (s0001)" in screen and "(s0001.t01" in screen and "saved)" in screen
        t.keys("q")
        screen = t.wait_for("EXITED 0")
    finally:
        t.close()
    with Bank.open(bank_path, writable=False) as bank:
        [take] = bank.takes_for("s0001")
        assert take.source.startswith("recovered-capture:") and take.status == "pending"
        assert take.duration > 1.5
        samples, rate = bank.read_take(take)
    assert not any((bank_path / ".inprogress").iterdir())
    ref, ref_rate = sf.read(wav, dtype="float32")
    r, _, _ = correlate_audio(samples, rate, ref[: int(take.duration * ref_rate)], ref_rate)
    assert r > 0.9, r


def test_big_letters_fit_and_keep_every_word() -> None:
    from voicebank.record import bigtext

    for ch, rows in bigtext.GLYPHS.items():
        assert len(rows) == 5 and len({len(r) for r in rows}) == 1, ch
    text = "It's strange to imagine my voice coming from a computer."
    lines = bigtext.wrap_big(text, 80)
    assert lines is not None and " ".join(lines) == text.upper()
    art = bigtext.render(text, 80)
    assert art is not None and max(len(r) for r in art) <= 80
    assert len(art) == len(lines) * 4 - 1  # 3 rows a line, a blank row between lines
    assert bigtext.render("Café “quoted” — naïve", 200) is not None  # accents and typographic marks
    assert bigtext.render("Supercalifragilistic", 30) is None  # cannot fit: plain text instead


def test_without_a_terminal_it_says_so(bank_path: Path) -> None:
    cmd = [str(VOICEBANK)] if VOICEBANK.exists() else [sys.executable, "-m", "voicebank.cli.main"]
    out = subprocess.run([*cmd, "record", str(bank_path)], stdin=subprocess.DEVNULL, capture_output=True,
                         text=True, timeout=60, check=False)
    assert out.returncode == 2
    assert "needs a terminal" in out.stderr and "Traceback" not in out.stderr


def _wait_gone(pid: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        # A zombie child of the pane's shell counts as gone; so does one reaped between the two looks.
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(") ")[-1]
        except (ProcessLookupError, FileNotFoundError):
            return
        if state.startswith("Z"):
            return
        time.sleep(0.1)
    raise AssertionError(f"process {pid} is still running")


def _fill(disk: Path) -> Path:
    """Fill the file system at ``disk`` to the last byte, for real."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        for size in (1 << 20, 4096, 1):
            try:
                while True:
                    os.write(fd, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(fd)
    return filler


@pytest.mark.slow
def test_disk_filling_during_a_session_is_said_in_words_and_the_bank_verifies(
    pulse_server: PulseServer, ljspeech: Path, tmp_path: Path
) -> None:
    from tests.helpers.tmpfs import small_tmpfs

    wav = ljspeech / "wavs" / CLIP
    with small_tmpfs(tmp_path / "small", "40m") as disk:
        Bank.create(disk / "bank", speaker="Test").close()
        t = _start(pulse_server, disk / "bank")
        try:
            screen = " ".join(t.wait_for("Press SPACE to record", timeout=30).split())
            assert "Disk space is low" in screen and "MB free" in screen  # 40 MB: less than a session needs
            filler = _fill(disk)
            t.keys("Space")
            t.wait_for("RECORDING")
            pulse_server.play(wav)
            time.sleep(0.3)
            t.keys("Space")
            screen = t.wait_for("once there is space", timeout=30)  # the save failed: it says why
            assert "disk is full" in " ".join(screen.split()) and "Traceback" not in screen
            filler.unlink()  # space again: the next take is saved
            _record_clip(t, pulse_server, wav)
            t.keys("q")
            screen = " ".join(t.wait_for("EXITED 2").split())
            assert "1 take could not be saved: The disk is full" in screen and "Traceback" not in screen
        finally:
            t.close()
        with Bank.open(disk / "bank", writable=False) as bank:
            assert bank.verify().ok
            assert len(bank.takes) == 1
