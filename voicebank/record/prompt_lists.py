"""What a recording session may record: a script's sentences, or messages (the bank's own phrases, then suggestions)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ..bank.prompts import Prompt, list_scripts
from ..bank.store import Bank


@dataclass(frozen=True)
class SessionPrompt:
    """One thing to record in this session (a script sentence or a message)."""

    id: str  # id in its list: "s0001" (script) or "m0001" (message)
    text: str
    kind: str = "script"  # "script" or "message"
    category: str = ""

    @classmethod
    def from_prompt(cls, p: Prompt) -> SessionPrompt:
        return cls(p.id, p.text, p.kind, p.category)


def normalized(text: str) -> str:
    """Text with its white space folded (how prompts are compared)."""
    return " ".join(text.split())


def default_script(bank: Bank) -> str:
    """The bank's script when it is a shipped one, else the default (imported banks)."""
    from ..bank.prompts import DEFAULT_SCRIPT

    name = str(bank.meta.get("script") or DEFAULT_SCRIPT)
    return name if name in list_scripts() else DEFAULT_SCRIPT


def message_prompts(bank: Bank, suggestions: Iterable[Prompt] = ()) -> list[SessionPrompt]:
    """Messages to record: the bank's own phrases first, then suggestions not already there."""
    own = [SessionPrompt(p.id, p.text, "message") for p in bank.prompts.values() if p.kind == "message"]
    have = {normalized(p.text) for p in own}
    rest = [SessionPrompt.from_prompt(p) for p in suggestions if normalized(p.text) not in have]
    # A suggestion whose id the bank already uses for another phrase gets a free id.
    used = set(bank.prompts) | {p.id for p in rest}
    n = 0
    out = list(own)
    for p in rest:
        if p.id in bank.prompts:
            n += 1
            while f"m{n:04d}" in used:
                n += 1
            used.add(f"m{n:04d}")
            p = SessionPrompt(f"m{n:04d}", p.text, p.kind, p.category)
        out.append(p)
    return out


def build_prompts(bank: Bank, *, script: str | None, messages: bool) -> tuple[list[SessionPrompt], str | None]:
    """A session's prompt list (the script's, or messages) and the script that measures coverage (None for messages)."""
    from ..bank.prompts import load_messages, load_script

    if messages:
        return message_prompts(bank, load_messages()), None
    name = script or default_script(bank)
    return [SessionPrompt.from_prompt(p) for p in load_script(name)], name
