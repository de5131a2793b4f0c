"""Several runs of one recipe that differ only in their seed, averaged into one voice.

``[training] runs = N`` in a recipe (or ``train finetune --runs N``) trains the voice N times
from the same start on the same data, with seeds S, S+1, …, one run after the other, and then
averages their weights (:mod:`.soup`). For ``vits-offline-more`` two runs averaged were more
alike than either run alone in one measured pair and as alike in another, never less
(``docs/offline-voice.md``), so that recipe asks for two.

The folder ``OUT`` ends up holding the average, a voice like any other. The runs are kept in
``OUT/runs/seed-S`` (each a voice folder of its own), and ``OUT/runs/plan.json`` records what
was asked, so that ``--resume`` finishes whatever was left: a finished run is kept, an
unfinished one continues from its last checkpoint, one not begun is started, and the average
is made once every run has finished.

Responsible for: the plan, the order of the runs, and handing each run to
:func:`.finetune.finetune` and the finished runs to :func:`.soup.average_voices`. Not for the
training or the averaging themselves.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..durable import atomic_write_json, read_json
from ..errors import TrainingError, UsageError
from .events import EventCallback, TrainEvent
from .recipes import Recipe
from .run_files import CONFIG_FILE, MODEL_FILE, STATE_FILE, read_state

RUNS_DIR = "runs"
PLAN_FILE = "plan.json"
MAX_RUNS = 8
_PLAN_SCHEMA = 1


@dataclass(frozen=True)
class RunsResult:
    """What ``train finetune`` left when a recipe asked for several runs: the runs, and their average in ``voice_dir``."""

    voice_dir: Path
    runs: tuple[Any, ...]  # one FinetuneResult per seed, in seed order
    soup: Any  # the SoupResult of averaging them


def is_runs_folder(out: Path) -> bool:
    """Whether ``out`` is the folder of several seeded runs (it holds ``runs/plan.json``)."""
    return (out / RUNS_DIR / PLAN_FILE).is_file()


def record_folder(out: Path) -> Path:
    """The folder whose record and card speak for ``out``: itself, or for a set of runs the first run that started."""
    plan = _read_plan(out) or {}
    started = [f for f in (run_folder(out, int(s)) for s in plan.get("seeds") or []) if (f / STATE_FILE).is_file()]
    return started[0] if started else out


def planned_dataset(out: Path) -> str | None:
    """The dataset a set of runs in ``out`` was planned on (None: not a set of runs)."""
    plan = _read_plan(out) or {}
    return str(plan["dataset"]) if plan.get("dataset") else None


def _read_plan(out: Path) -> dict[str, Any] | None:
    """``out/runs/plan.json`` when it is there and readable as a plan, else None."""
    plan = read_json(out / RUNS_DIR / PLAN_FILE, None, what="plan of the runs") if is_runs_folder(out) else None
    ok = isinstance(plan, dict) and isinstance(plan.get("seeds"), list) and isinstance(plan.get("recipe"), dict)
    return plan if ok else None


def run_folder(out: Path, seed: int) -> Path:
    """Where the run with ``seed`` trains."""
    return out / RUNS_DIR / f"seed-{seed}"


def finetune_runs(
    recipe: Recipe | None,
    dataset: str | os.PathLike[str] | None,
    out: Path,
    *,
    runs: int | None,
    base: str | os.PathLike[str] | None,
    device: str,
    resume: bool,
    max_steps: int | None,
    threads: int | None,
    seed: int | None,
    on_event: EventCallback | None,
) -> RunsResult:
    """Train the runs ``out`` asks for (new, or left unfinished), then average them into ``out``."""
    from .finetune import finetune
    from .soup import average_voices

    emit = on_event or (lambda e: None)
    plan = _resumed_plan(out, runs, seed) if resume else _new_plan(recipe, dataset, out, runs, base, max_steps)
    seeds = [int(s) for s in plan["seeds"]]
    results = []
    for i, s in enumerate(seeds, start=1):
        folder = run_folder(out, s)
        state = read_state(folder)
        if state is not None and state.get("status") == "finished":
            emit(TrainEvent("message", message=f"Run {i} of {len(seeds)} (seed {s}) finished before: {folder}"))
            emit(TrainEvent("voice", step=int(state.get("steps") or 0), path=folder, message=""))  # its card, if a kill came first
            results.append(_finished(folder, state))
            continue
        emit(TrainEvent("message", message=f"Run {i} of {len(seeds)} (seed {s}) -> {folder}"))
        if state is not None:
            result = finetune(None, None, folder, resume=True, max_steps=max_steps, threads=threads, device=device, on_event=emit)
        else:
            run_recipe = Recipe.from_dict(plan["recipe"], source=str(out / RUNS_DIR / PLAN_FILE)).with_seed(s)
            result = finetune(run_recipe, plan["dataset"], folder, base=plan["base"], device=device,
                              max_steps=max_steps, threads=threads, on_event=emit)
        emit(TrainEvent("voice", step=result.steps, path=folder, message=f"run {i} of {len(seeds)} finished"))
        results.append(result)
    soup = average_voices([r.voice_dir for r in results], out)
    emit(TrainEvent("message", message=f"Averaged the {len(seeds)} runs (seeds {', '.join(map(str, seeds))}) into {out}"))
    return RunsResult(out, tuple(results), soup)


def _new_plan(recipe: Recipe | None, dataset: Any, out: Path, runs: int | None, base: Any,
              max_steps: int | None) -> dict[str, Any]:
    """Check a new set of runs can start, and record it in ``out/runs/plan.json`` before the first run."""
    from .finetune import check_new_run, recorded_base

    recipe = check_new_run(recipe, base)  # the recipe carries --seed already
    count = runs if runs is not None else recipe.training.runs
    if not 2 <= count <= MAX_RUNS:
        raise UsageError(f"--runs must be between 2 and {MAX_RUNS} to average runs, not {count}.")
    if dataset is None:
        raise UsageError("Give the dataset to train on: --dataset FOLDER (made by 'voicebank train prepare').")
    if (out / MODEL_FILE).exists() or (out / STATE_FILE).exists():
        raise TrainingError(f"{out} already holds a voice or a training run; choose another --out folder.")
    if is_runs_folder(out) and any((p / STATE_FILE).exists() for p in (out / RUNS_DIR).iterdir() if p.is_dir()):
        raise TrainingError(f"{out} already holds runs that were started. Continue them with --resume, or choose another --out folder.")
    first = recipe.training.seed
    one = recipe.with_max_steps(max_steps).with_runs(1)
    plan = {
        "schema_version": _PLAN_SCHEMA,
        "runs": count,
        "seeds": [first + i for i in range(count)],
        "recipe": one.to_dict(),
        "dataset": str(Path(dataset).expanduser().resolve()),
        "base": None if base is None else recorded_base(base),
    }
    (out / RUNS_DIR).mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / RUNS_DIR / PLAN_FILE, plan, indent=2)
    return plan


def _resumed_plan(out: Path, runs: int | None, seed: int | None) -> dict[str, Any]:
    """The plan recorded in ``out``; a changed --runs or --seed, or an average already made, is refused."""
    plan = _read_plan(out)
    if plan is None:
        raise TrainingError(f"{out / RUNS_DIR / PLAN_FILE} is not a plan of runs this voicebank can read.")
    if runs is not None and runs != plan.get("runs"):
        raise UsageError(f"{out} was started with {plan.get('runs')} runs; a resumed set keeps its runs. Leave --runs out.")
    if seed is not None and seed != plan["seeds"][0]:
        raise TrainingError(f"{out} was started with seeds {plan['seeds']}; resumed runs keep their seeds. Leave --seed out.")
    if (out / MODEL_FILE).exists() and (out / CONFIG_FILE).exists():
        raise UsageError(f"{out} already holds the average of its {len(plan['seeds'])} runs; nothing is left to train. "
                         f"Next: voicebank train export {out}")
    return plan


def _finished(folder: Path, state: dict[str, Any]) -> Any:
    """The result of a run finished in an earlier session, as its record tells it."""
    from .finetune import FinetuneResult

    return FinetuneResult(
        voice_dir=folder,
        steps=int(state.get("steps") or 0),
        best_step=int(state.get("best_step") or 0),
        best_loss_eval=float(state["best_loss_eval"]) if state.get("best_loss_eval") is not None else float("nan"),
        stop_reason=str(state.get("stop_reason") or "finished"),
        model_path=folder / MODEL_FILE,
        config_path=folder / CONFIG_FILE,
        checkpoints=(),
        seconds_per_step=float(state.get("seconds_per_step") or 0.0),
    )
