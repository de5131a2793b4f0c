"""The voice folder of a VITS run: its file names, its record (training.json), and every write
into it with room checked first (checkpoints with retention, model.pth, config.json).

Every file goes through :mod:`.checkpoints`' atomic writers (:mod:`voicebank.durable`), so a
crash or a full disk never leaves half a file under a real name. Before a write, free space
is checked; when it is short, checkpoints that retention would delete anyway go first; when
it is still short the run stops with a :class:`CheckpointError` that says what is intact.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

from ..errors import CheckpointError, CorruptFileError, TrainingError
from ..voice.training_record import TRAINING_RECORD, TRAINING_SCHEMA, read_training_record, write_training_record
from .checkpoints import (
    checkpoint_bytes,
    kept_steps,
    list_checkpoints,
    remove_checkpoint,
    sidecar,
    write_atomic,
    write_atomic_json,
)
from .events import EventCallback, TrainEvent

MODEL_FILE = "model.pth"
CONFIG_FILE = "config.json"
STATE_FILE = TRAINING_RECORD
CHECKPOINTS = "checkpoints"
ANCHOR_FILE = "anchor.pt"  # the base's trained-part weights, for the L2-SP penalty (training.anchor_weight)
STATE_SCHEMA = TRAINING_SCHEMA
_MB = 1 << 20


def read_state(out: Path) -> dict[str, Any] | None:
    """The run recorded in voice folder ``out`` (``training.json``), or None when there is none."""
    try:
        data = read_training_record(out)
    except CorruptFileError as exc:
        raise TrainingError(f"{exc} The checkpoints in {out / CHECKPOINTS} are still there.") from exc
    if data is None:
        return None
    if data.get("schema_version") != STATE_SCHEMA or "run_dir" not in data:
        raise TrainingError(f"{out / STATE_FILE} is not a voicebank training record this version understands.")
    return data


class RunFiles:
    """Writes one run's files into its voice folder ``out``; knows nothing of the training loop.

    ``run_dir`` (Coqui's run folder, under ``out/checkpoints``) is set once the trainer made it.
    """

    def __init__(self, out: Path, keep: int, emit: EventCallback) -> None:
        self.out = out
        self.keep = keep
        self.emit = emit
        self.run_dir: Path | None = None

    def write_voice_config(self, config: Any) -> Any:
        """Write ``config.json`` for ``model.pth`` (no discriminator); returns that config."""
        voice_config = copy.deepcopy(config)
        voice_config.model_args.init_discriminator = False
        write_atomic_json(self.out / CONFIG_FILE, voice_config.to_dict(), self._disk_error)
        return voice_config

    def write_state(self, fields: dict[str, Any]) -> None:
        """Update ``training.json`` with ``fields`` (keys written earlier, e.g. a stop reason, stay)."""
        read_state(self.out)  # refuses a damaged or foreign record before it is merged into
        try:
            write_training_record(self.out, fields)
        except OSError as exc:
            raise self._disk_error(exc, self.out / STATE_FILE) from exc

    def write_best(self, payload: dict[str, Any]) -> Path:
        """Replace ``model.pth`` with ``payload`` (generator weights and what they were scored at)."""
        import torch

        size = sum(t.numel() * t.element_size() for t in payload["model"].values())
        target = self.out / MODEL_FILE
        current = target.stat().st_size if target.exists() else 0
        self.make_room(size + _MB - current, [], "the best model (model.pth)")
        write_atomic(target, lambda tmp: torch.save(payload, str(tmp)), self._disk_error)
        return target

    def write_checkpoint(self, trainer: Any, step: int, info: dict[str, Any], best_step: int) -> Path:
        """Save Coqui's checkpoint of ``step`` (its ``.json`` ``info`` first), then apply retention.

        The last ``keep`` checkpoints stay, plus the one of ``best_step``; older ones are
        deleted after the new one is safely on disk (or before, when the disk is short).
        """
        from trainer.io import save_model

        assert self.run_dir is not None
        path = self.run_dir / f"checkpoint_{step}.pth"
        existing = list_checkpoints(self.run_dir)
        after = [s for s, _ in existing if s != step] + [step]
        doomed = [p for s, p in existing if s not in kept_steps(after, self.keep, {best_step})]
        self.make_room(checkpoint_bytes(trainer, existing), doomed, f"the checkpoint of step {step}")
        write_atomic_json(sidecar(path), info, self._disk_error)

        def write(tmp: Path) -> None:
            save_model(
                trainer.config,
                trainer._get_model(),
                str(tmp),
                current_step=step - 1,  # Coqui's convention: restore continues at step + 1
                epoch=int(trainer.epochs_done),
                optimizer=trainer.optimizer,
                scheduler=trainer.scheduler,
                scaler=trainer.scaler if trainer.use_amp_scaler else None,
                model_loss={"train_loss": info.get("loss_train"), "eval_loss": info.get("loss_eval")},
            )

        write_atomic(path, write, self._disk_error)
        for old in doomed:
            remove_checkpoint(old)
        self._apply_retention(best_step)
        return path

    def checkpoints(self) -> tuple[Path, ...]:
        return tuple(p for _, p in list_checkpoints(self.run_dir)) if self.run_dir is not None else ()

    def _apply_retention(self, best_step: int) -> None:
        """Delete what retention no longer wants (e.g. the old best, once the best moved on)."""
        assert self.run_dir is not None
        found = list_checkpoints(self.run_dir)
        keep = kept_steps([s for s, _ in found], self.keep, {best_step})
        for s, p in found:
            if s not in keep:
                remove_checkpoint(p)

    # ---- disk space ----------------------------------------------------------------------

    def make_room(self, needed: int, removable: list[Path], what: str) -> None:
        """Make sure ``needed`` bytes fit, deleting ``removable`` (oldest first) when they must go anyway."""
        folder = self.run_dir if self.run_dir is not None else self.out
        margin = _MB + needed // 50
        free = shutil.disk_usage(folder).free
        for old in list(removable):
            if free >= needed + margin:
                break
            remove_checkpoint(old)
            removable.remove(old)
            self.emit(TrainEvent("message", message=f"Low on disk space: removed {old.name} early."))
            free = shutil.disk_usage(folder).free
        if free < needed + margin:
            raise CheckpointError(self._disk_message(what, needed + margin, free))

    def _disk_error(self, exc: BaseException, what: Path) -> CheckpointError:
        folder = self.run_dir if self.run_dir is not None else self.out
        free = shutil.disk_usage(folder).free
        return CheckpointError(f"Writing {what.name} failed ({exc}). " + self._disk_message(what.name, 0, free))

    def _disk_message(self, what: str, needed: int, free: int) -> str:
        found = list_checkpoints(self.run_dir) if self.run_dir is not None else []
        need = f"needs about {needed / _MB:.0f} MB, " if needed else ""
        keep = (
            f"The last good checkpoint, {found[-1][1].name} (step {found[-1][0]}), is intact and "
            f"{self.out / MODEL_FILE} still holds the best voice so far. Free some space and continue with --resume."
            if found
            else "No checkpoint was written yet. Free some space and start again."
        )
        return f"Not enough disk space for {what}: {need}{free / _MB:.0f} MB free in {self.out}. {keep}"
