"""Coqui's ``Trainer`` adapted to voicebank: atomic checkpoints, fixed-seed evaluation, quiet logs.

The VITS run (:mod:`.finetune`, :mod:`.run_setup`) uses the trainer; the XTTS run borrows
only :func:`no_stderr` and :func:`env_var` (the base download uses that too). The subclass
keeps Coqui's epoch loop, optimizers, LR schedulers and resume (``continue_path``) and
replaces what voicebank does differently:

* Coqui's own checkpoint / best-model saving (non-atomic, full-size best copies) is off;
  the run writes checkpoints and the best model itself (:mod:`.run_files`).
* After every optimizer step the run object is called (log, evaluation, checkpoint,
  early stopping); it stops the loop by raising.
* Evaluation runs on the held-out set with a fixed random seed (segments, noise), so two
  evaluations differ only because the model changed.
* ``--device cpu`` is honoured; a tqdm bar and console logging stay off the screen.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator
from typing import Any

from ..errors import TrainingError


def trainer_class() -> type:
    """Coqui's Trainer, with voicebank's checkpointing, evaluation and device choice."""
    import torch
    from trainer import Trainer
    from trainer.generic_utils import KeepAverage

    class VoicebankTrainer(Trainer):  # type: ignore[misc]
        def __init__(self, run: Any, *args: Any, **kwargs: Any) -> None:
            self._vb_run = run
            super().__init__(*args, **kwargs)

        def setup_training_environment(self, args: Any, config: Any, gpu: Any) -> tuple[bool, int]:
            use_cuda, num_gpus = Trainer.setup_training_environment(args=args, config=config, gpu=gpu)
            if self._vb_run.device == "cpu":
                return False, 0
            if num_gpus > 1:
                raise TrainingError("Several GPUs are visible; choose one with CUDA_VISIBLE_DEVICES=N.")
            return use_cuda, num_gpus

        # Coqui's own saving is replaced by RunFiles.write_checkpoint / write_best (atomic, space-checked).
        def save_checkpoint(self) -> None:
            return None

        def save_best_model(self) -> None:
            return None

        def _restore_best_loss(self) -> None:
            return None  # early stopping keeps its own record (the checkpoint's .json)

        def save_training_script(self) -> None:
            return None

        def _get_loader(self, *args: Any, **kwargs: Any) -> Any:
            with contextlib.redirect_stderr(io.StringIO()), contextlib.redirect_stdout(io.StringIO()):
                return super()._get_loader(*args, **kwargs)  # Coqui shows a tqdm bar here

        def train_step(self, batch: Any, batch_n_steps: int, step: int, loader_start_time: float) -> Any:
            started = time.perf_counter()
            outputs, loss_dict = super().train_step(batch, batch_n_steps, step, loader_start_time)
            getattr(self.model, "pull_toward_anchor", lambda: None)()  # decoupled L2-SP, after the optimizers stepped
            if outputs is not None and loss_dict is not None:
                self._vb_run.after_step(self, loss_dict, time.perf_counter() - started)
            return outputs, loss_dict

        def run_held_out_eval(self) -> None:
            """One pass over the held-out set with fixed randomness (segments, noise)."""
            self.keep_avg_eval = KeepAverage()
            devices = [torch.cuda.current_device()] if self.use_cuda else []
            with torch.random.fork_rng(devices=devices):
                torch.manual_seed(self.config.training_seed)
                self.eval_epoch()

    return VoicebankTrainer


# ----------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def quiet_coqui() -> Iterator[None]:
    """Keep Coqui's console logging off the user's screen; it goes to the run folder's log instead.

    The trainer's own logger loses its console handler for the run (Trainer adds a file
    handler, ``trainer_0_log.txt``). Coqui's model code logs to ``TTS.*`` loggers without
    handlers, which Python would print as a last resort: they get the trainer's file
    handler (once the Trainer made one) or a null handler.
    """
    log = logging.getLogger("trainer")
    tts_log = logging.getLogger("TTS")
    before = list(log.handlers)
    streams = [h for h in before if isinstance(h, logging.StreamHandler) and not isinstance(h, logging.FileHandler)]
    for h in streams:
        log.removeHandler(h)
    null = logging.NullHandler()
    tts_log.addHandler(null)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for h in list(tts_log.handlers):
            if h is null or h in log.handlers:
                tts_log.removeHandler(h)
        for h in list(log.handlers):
            if h not in before:
                log.removeHandler(h)
                h.close()
        for h in streams:
            log.addHandler(h)


def share_file_log() -> None:
    """Send ``TTS.*`` log records to the trainer's file log as well (inside :func:`quiet_coqui`)."""
    tts_log = logging.getLogger("TTS")
    for h in logging.getLogger("trainer").handlers:
        if isinstance(h, logging.FileHandler) and h not in tts_log.handlers:
            tts_log.addHandler(h)


@contextlib.contextmanager
def env_var(name: str, value: str) -> Iterator[None]:
    """``os.environ[name] = value`` for the block (Coqui reads some settings only from there)."""
    old = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = old


@contextlib.contextmanager
def no_stderr() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for a moment (output of child processes Coqui starts)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded interpreter): nothing to hide
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
