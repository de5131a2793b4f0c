"""The import rules of DESIGN.md, checked on the source with `ast` (nothing is imported).

Every `import` and `from ... import` counts, inside functions too, absolute or relative.
A relative import is resolved against the module's package; the top-level folders `cli/`,
`recipes/` and `benchmarks/` are resolved under the names they ship as (pyproject.toml's
package-dir: `voicebank.cli`, ...).
"""

from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

CORE = ("voicebank.audio", "voicebank.errors", "voicebank.config", "voicebank.durable")
TRAINING = ("voicebank.train", "voicebank.recipes", "trainer")
# Model runtimes and what pulls them in (piper's __init__ loads onnxruntime).
MODEL_LIBS = (
    "torch", "torchaudio", "torchcodec", "TTS", "trainer", "transformers", "huggingface_hub",
    "onnxruntime", "piper", "resemblyzer", "silero_vad", "coqpit",
)
TRANSPORT = (
    "voicebank.player", "voicebank.serve", "voicebank.audiobook", "voicebank.record",
    "voicebank.cli", "sounddevice", "pyaudio", "typer", "click", "prompt_toolkit",
    "fastapi", "starlette", "uvicorn", "aiohttp", "websockets", "wyoming", "flask",
    "http.server", "socketserver",
)


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, as it ships ("voicebank.cli.speak")
    path: str  # its file, relative to the repository
    line: int
    target: str  # what it imports, resolved ("voicebank.train.base_models.find_base")
    top_level: bool  # runs when the module is imported (not inside a function)


@dataclass(frozen=True)
class Rule:
    """Modules in `who` may not import anything in `forbidden` (unless it is in `allowed`)."""

    text: str
    who: tuple[str, ...]
    forbidden: tuple[str, ...]
    allowed: tuple[str, ...] = ()
    top_level_only: bool = False
    exempt: tuple[str, ...] = ()

    def breaks(self, imp: Import) -> bool:
        if not within(imp.module, self.who) or within(imp.module, self.exempt):
            return False
        if self.top_level_only and not imp.top_level:
            return False
        return within(imp.target, self.forbidden) and not within(imp.target, self.allowed)


RULES = (
    Rule("errors.py imports nothing of ours", ("voicebank.errors",), ("voicebank",)),
    Rule("the core (audio, config, durable) imports nothing of ours but errors",
         CORE, ("voicebank",), allowed=("voicebank.errors",), exempt=("voicebank.errors",)),
    Rule("bank/ imports only the core and bank/ (works without any model)",
         ("voicebank.bank",), ("voicebank",), allowed=CORE + ("voicebank.bank",)),
    Rule("text/ imports only the core and text/ (no model code)",
         ("voicebank.text",), ("voicebank",), allowed=CORE + ("voicebank.text",)),
    Rule("bank/ and text/ load no model runtime (torch, TTS, onnxruntime, ...)",
         ("voicebank.bank", "voicebank.text"), MODEL_LIBS),
    Rule("inference (engines/, voice/, text/, player.py) never imports training",
         ("voicebank.engines", "voicebank.voice", "voicebank.text", "voicebank.player"),
         TRAINING),
    Rule("engines know no transport (player, server, narrator, recorder, CLI, web, sound card)",
         ("voicebank.engines",), TRANSPORT),
    Rule("voice/ imports no engine", ("voicebank.voice",), ("voicebank.engines",)),
    Rule("voice/ loads no model runtime when imported (paths only: import torch inside functions)",
         ("voicebank.voice",), MODEL_LIBS, top_level_only=True),
    Rule("serve/ never imports training", ("voicebank.serve",), TRAINING),
    Rule("serve/ loads no model runtime when imported (voices load when the server starts)",
         ("voicebank.serve",), MODEL_LIBS, top_level_only=True),
    Rule("nothing in the library imports the CLI",
         ("voicebank",), ("voicebank.cli",), exempt=("voicebank.cli",)),
)


def shipped_roots() -> dict[str, str]:
    """Source folder -> the package name it ships as (from pyproject.toml's package-dir)."""
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    package_dir = pyproject["tool"]["setuptools"]["package-dir"]
    return {folder: package for package, folder in package_dir.items()}


def module_name(path: Path, folder: str, package: str) -> tuple[str, bool]:
    parts = list(path.relative_to(REPO / folder).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join([package, *parts]), is_package


def resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute name `from <node.module>` stands for in `module`."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    if node.level - 1 >= len(package):
        raise ValueError(f"relative import beyond the top package in {module} line {node.lineno}")
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_in(source: str, module: str, path: str, is_package: bool = False) -> list[Import]:
    """Every import in one module's source, with what it resolves to."""
    found: list[Import] = []

    def visit(node: ast.AST, top_level: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                for alias in child.names:
                    found.append(Import(module, path, child.lineno, alias.name, top_level))
            elif isinstance(child, ast.ImportFrom):
                base = resolve(child, module, is_package)
                for alias in child.names:
                    # `from voicebank import train` imports the package voicebank.train.
                    target = base if alias.name == "*" else f"{base}.{alias.name}"
                    found.append(Import(module, path, child.lineno, target, top_level))
            # A function body runs when called; a class body runs at import time.
            inner = top_level and not isinstance(
                child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            visit(child, inner)

    visit(ast.parse(source, filename=path), True)
    return found


def violations(imports: list[Import]) -> list[str]:
    """One line per import statement and rule it breaks: `path:line: imports X — breaks: rule`."""
    broken: dict[tuple[str, int, str], list[str]] = {}
    for imp in imports:
        for rule in RULES:
            if rule.breaks(imp):
                broken.setdefault((imp.path, imp.line, rule.text), []).append(imp.target)
    return [f"{path}:{line}: imports {', '.join(targets)} — breaks: {rule}"
            for (path, line, rule), targets in broken.items()]


def project_imports() -> tuple[list[Import], set[str]]:
    imports: list[Import] = []
    modules: set[str] = set()
    for folder, package in shipped_roots().items():
        for path in sorted((REPO / folder).rglob("*.py")):
            name, is_package = module_name(path, folder, package)
            modules.add(name)
            rel = str(path.relative_to(REPO))
            imports += imports_in(path.read_text(encoding="utf-8"), name, rel, is_package)
    return imports, modules


def test_the_code_keeps_the_import_rules():
    imports, modules = project_imports()
    # The scan saw the tree as it ships (a wrong root would pass vacuously).
    assert {"voicebank.errors", "voicebank.engines.base", "voicebank.cli.main"} <= modules
    found = violations(imports)
    if found:
        pytest.fail(f"{len(found)} import(s) break DESIGN.md's rules:\n" + "\n".join(found))


@pytest.mark.parametrize("line", [
    "from voicebank.train import vits",
    "from voicebank.train.base_models import find_base",
    "import voicebank.train.vits as vits",
    "from ..train import vits",
    "from .. import train",
    "from ..train.base_models import find_base",
])
def test_the_checker_catches_an_engine_importing_training_inside_a_function(line):
    source = f'"""An engine."""\n\nimport numpy\n\n\ndef speak():\n    {line}\n    return vits\n'
    imports = imports_in(source, "voicebank.engines.fake", "voicebank/engines/fake.py")
    found = violations(imports)
    assert len(found) == 1, found
    assert found[0].startswith("voicebank/engines/fake.py:7: imports voicebank.train")
    assert "never imports training" in found[0]


def test_the_checker_reports_every_violation_with_its_rule():
    source = (
        "import torch\n"                                      # voice/: runtime at import time
        "from voicebank.engines.piper_onnx import PiperEngine\n"  # voice/: no engine
        "def load():\n"
        "    import onnxruntime\n"                           # fine inside a function
        "    from ...cli import main\n"                       # resolves to voicebank.cli.main
    )
    imports = imports_in(source, "voicebank.voice.cards.deep", "voicebank/voice/cards/deep.py")
    assert [i.target for i in imports][-1] == "voicebank.cli.main"
    found = violations(imports)
    assert [f.split(" — ")[0] for f in found] == [
        "voicebank/voice/cards/deep.py:1: imports torch",
        "voicebank/voice/cards/deep.py:2: imports voicebank.engines.piper_onnx.PiperEngine",
        "voicebank/voice/cards/deep.py:5: imports voicebank.cli.main",
    ]


def test_the_core_may_import_errors_only():
    ok = imports_in("from .errors import UsageError\n", "voicebank.durable", "voicebank/durable.py")
    bad = imports_in("from .bank import store\n", "voicebank.durable", "voicebank/durable.py")
    worse = imports_in("from . import durable\n", "voicebank.errors", "voicebank/errors.py")
    assert violations(ok) == []
    assert len(violations(bad)) == 1
    assert len(violations(worse)) == 1


def test_cli_modules_resolve_under_the_name_they_ship_as():
    imports = imports_in("from .train_export import app\nfrom ..train import export\n",
                         "voicebank.cli.train", "cli/train.py")
    assert [i.target for i in imports] == ["voicebank.cli.train_export.app",
                                           "voicebank.train.export"]
    assert violations(imports) == []  # the CLI may import training and itself
