"""The recording session's rules, without any sound device: order, resume, accept/redo/skip/later/back,
progress, break reminders, and recovery of spooled captures."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from voicebank.bank.prompts import load_messages, load_script
from voicebank.bank.store import LOST_DIR, Bank
from voicebank.errors import AudioDeviceError, CorruptFileError, UsageError
from voicebank.record import spool
from voicebank.record.session import SOURCE_RECOVERED, RecordingSession, message_prompts

LJSPEECH = Path(__file__).resolve().parents[2] / "shared/data/ljspeech-sample"


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture(scope="module")
def clip() -> tuple[np.ndarray, int]:
    """A real spoken sentence when the LJSpeech sample is here, else a voiced synthetic burst."""
    wav = LJSPEECH / "wavs" / "LJ001-0002.wav"
    if wav.exists():
        x, rate = sf.read(wav, dtype="float32")
        return x, rate
    rate = 22050
    t = np.arange(int(1.5 * rate)) / rate
    x = 0.2 * np.sin(2 * np.pi * 140 * t) * (np.sin(2 * np.pi * 3 * t) > 0)
    return np.concatenate([np.zeros(rate // 4), x, np.zeros(rate // 4)]).astype(np.float32), rate


@pytest.fixture
def bank(tmp_path: Path):
    with Bank.create(tmp_path / "bank") as b:
        yield b


def _session(bank: Bank, n: int = 6, **kw) -> RecordingSession:
    return RecordingSession(bank, load_script("en-core")[:n], script="en-core", **kw)


def _record(s: RecordingSession, clip: tuple[np.ndarray, int]):
    return s.save_capture(clip[0], clip[1], capture_id=f"test-{len(s.saved)}")


def test_takes_are_saved_pending_with_qc_at_once(bank: Bank, clip, ljspeech: Path) -> None:
    s = _session(bank)
    saved = _record(s, clip)
    # Durable before any decision: another reader sees it, pending, with its quality report.
    with Bank.open(bank.root, writable=False) as other:
        take = other.takes[saved.take.id]
        assert take.status == "pending" and take.prompt_id == "s0001"
        assert take.qc["verdict"] == saved.verdict == "pass"
        assert take.source.startswith("microphone:test-")
        assert other.chosen == {}
        data, rate = other.read_take(take)
    assert rate == clip[1] and data.shape[0] == clip[0].shape[0]
    assert np.max(np.abs(data[:, 0] - clip[0])) < 1e-4  # 24-bit storage


def test_order_skip_later_resume(bank: Bank, clip) -> None:
    s = _session(bank, 5)
    assert s.current.id == "s0001"
    with pytest.raises(UsageError):
        s.accept()  # nothing recorded yet
    _record(s, clip)
    assert s.accept().id == "s0002"
    assert bank.takes["s0001.t01"].status == "accepted" and bank.chosen["s0001"] == "s0001.t01"
    assert s.skip().id == "s0003"
    assert s.later().id == "s0004"
    assert bank.flags == {"s0002": "skipped", "s0003": "later"}

    # A new session (the next day) resumes at the first prompt without a chosen take,
    # passing over skipped and later ones.
    s2 = _session(bank, 5)
    assert s2.current.id == "s0004"
    for expected_next in ("s0005", "s0003"):  # then the 'later' one comes back
        _record(s2, clip)
        assert s2.accept().id == expected_next
    _record(s2, clip)
    assert s2.accept() is None  # the skipped one does not come back by itself
    assert "s0003" not in bank.flags  # accepting clears the mark
    p = s2.progress()
    assert (p.done, p.total, p.skipped, p.later) == (4, 5, 1, 0)


def test_redo_keeps_the_old_take_unchosen(bank: Bank, clip) -> None:
    s = _session(bank)
    first = _record(s, clip).take
    assert s.redo().id == first.id
    assert s.take is None and s.current.id == "s0001"
    second = _record(s, clip).take
    s.accept()
    assert bank.chosen["s0001"] == second.id
    assert bank.takes[first.id].status == "pending"  # kept, not used
    assert bank.takes[second.id].status == "accepted"
    assert [t.id for t in bank.takes_for("s0001")] == [first.id, second.id]


def test_back_and_next(bank: Bank, clip) -> None:
    s = _session(bank)
    assert s.back() is None and s.current.id == "s0001"  # nothing before the first prompt
    _record(s, clip)
    s.accept()
    assert s.current.id == "s0002"
    assert s.back().id == "s0001"
    assert s.review_take().id == "s0001.t01"  # the chosen take plays back
    assert s.accept().id == "s0002"  # nothing new: just moves on, the choice stays
    assert bank.chosen["s0001"] == "s0001.t01"
    assert s.next().id == "s0003"  # leaves s0002 unmarked...
    assert "s0002" not in bank.flags
    # ...so a fresh session starts there again.
    assert _session(bank).current.id == "s0002"
    # After a resume, back goes to the prompt above.
    s3 = _session(bank)
    assert s3.back().id == "s0001"


def test_progress_minutes_and_coverage(bank: Bank, clip) -> None:
    s = _session(bank, 60)
    p0 = s.progress()
    assert (p0.done, p0.speech_minutes, p0.coverage, p0.next_goal) == (0, 0.0, 0.0, 50)
    for _ in range(2):
        _record(s, clip)
        s.accept()
    p = s.progress()
    assert p.done == 2
    assert p.speech_minutes == pytest.approx(2 * len(clip[0]) / clip[1] / 60, rel=1e-6)
    assert 0.0 < p.coverage < 0.2


def test_break_reminder_every_n_minutes_and_rest_counts(bank: Bank, clip) -> None:
    clock = FakeClock()
    s = _session(bank, break_minutes=20, rest_minutes=5, clock=clock)

    def work(minutes: int) -> None:  # steady work: an action every minute
        for _ in range(minutes):
            clock.t += 60
            s.note_activity()

    work(19)
    assert not s.break_due()
    work(2)
    assert s.break_due() and s.progress().break_due
    s.acknowledge_break()  # seen: remind again after another 20 minutes
    assert not s.break_due()
    work(19)
    clock.t += 6 * 60  # a six-minute rest...
    s.note_activity()  # ...then back to work: that was a break
    assert not s.break_due()
    work(19)
    assert not s.break_due()
    never = _session(bank, break_minutes=0, clock=clock)
    clock.t += 10 * 3600
    assert not never.break_due()


def _spool_take(folder: Path, clip, *, capture_id: str, prompt_id: str, text: str, sync: bool) -> np.ndarray:
    """Write a spool the way a capture does, then 'die' without closing it."""
    x = clip[0][:, None]
    info = spool.SpoolInfo(capture_id, prompt_id, text, "script", clip[1], 1, "2024-01-01T00:00:00.000+00:00")
    w = spool.SpoolWriter(folder, info, sync_s=3600.0)
    for a in range(0, len(x), 1000):
        w.write(x[a : a + 1000])
    if sync:
        w.sync()
    return x[:, 0]  # the writer is dropped unclosed, like a killed process (its header is stale)


def test_recover_spools_as_pending_takes(bank: Bank, clip) -> None:
    folder = spool.spool_dir(bank.root)
    prompt = load_script("en-core")[2]
    expected = _spool_take(folder, clip, capture_id="cap-1", prompt_id=prompt.id, text=prompt.text, sync=False)
    # The header still says 0 frames: recovery must read by file size.
    _, samples = spool.read_spool(folder / "cap-1.json")
    assert samples.shape == (len(expected), 1)

    s = _session(bank)
    recovered = s.recover_spools()
    assert len(recovered) == 1
    take = recovered[0].take
    assert take.prompt_id == prompt.id and take.status == "pending"
    assert take.source == f"{SOURCE_RECOVERED}:cap-1"
    assert bank.chosen == {}
    data, _ = bank.read_take(take)
    assert np.max(np.abs(data[:, 0] - expected)) < 1e-4
    assert spool.list_spools(folder) == [] and not list(folder.glob("*.wav"))
    # Nothing is recovered twice.
    assert _session(bank).recover_spools() == []


def test_spool_of_a_take_already_saved_is_only_cleaned(bank: Bank, clip) -> None:
    s = _session(bank)
    saved = s.save_capture(clip[0], clip[1], capture_id="cap-2")
    folder = spool.spool_dir(bank.root)
    _spool_take(folder, clip, capture_id="cap-2", prompt_id="s0001", text=s.current.text, sync=True)
    assert s.recover_spools() == []
    assert [t.id for t in bank.takes.values()] == [saved.take.id]
    assert spool.list_spools(folder) == []


def test_damaged_spool_note_goes_to_lost_and_found_the_rest_is_recovered(bank: Bank, clip) -> None:
    folder = spool.spool_dir(bank.root)
    prompt = load_script("en-core")[3]
    _spool_take(folder, clip, capture_id="cap-3", prompt_id=prompt.id, text=prompt.text, sync=True)
    _spool_take(folder, clip, capture_id="cap-4", prompt_id=prompt.id, text=prompt.text, sync=True)
    note = folder / "cap-3.json"
    note.write_bytes(note.read_bytes()[:20])  # a note torn by a disk fault
    with pytest.raises(CorruptFileError, match="cap-3.json"):
        spool.read_spool(note)
    with pytest.raises(AudioDeviceError, match="2 channels"):
        spool.SpoolWriter(folder, spool.SpoolInfo("cap-5", prompt.id, "", "script", clip[1], 1, "")).write(np.zeros((10, 2)))

    recovered = _session(bank).recover_spools()
    assert [r.take.source for r in recovered] == [f"{SOURCE_RECOVERED}:cap-4"]
    kept = sorted(p.name for p in (bank.root / LOST_DIR).iterdir())
    assert kept == ["spool-cap-3.json", "spool-cap-3.wav"]  # never deleted: a person can still look at the audio


def test_messages_own_first_and_ids_that_collide(bank: Bank, clip) -> None:
    own = bank.add_prompt("Sam, you are my favourite person.", kind="message")
    assert own.id == "m0001"  # the same id as the first suggestion
    prompts = message_prompts(bank, load_messages())
    assert prompts[0].id == "m0001" and prompts[0].text == own.text
    s = RecordingSession(bank, prompts, script=None)
    assert s.progress().coverage is None
    _record(s, clip)
    s.accept()
    # The first suggestion shares the id m0001 with the bank's own message: it gets a new one.
    suggestion = s.current
    assert suggestion.text == load_messages()[0].text
    _record(s, clip)
    s.accept()
    bank_id = bank.takes[s.saved[-1].take.id].prompt_id
    assert bank_id != "m0001" and bank.prompts[bank_id].text == suggestion.text
    # The next session knows both are done.
    s2 = RecordingSession(bank, message_prompts(bank, load_messages()), script=None)
    assert s2.progress().done == 2
    assert s2.current.text == load_messages()[1].text
