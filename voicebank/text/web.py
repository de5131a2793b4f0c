"""Web addresses and e-mail addresses, read the way people say them.

"sam@example.org" → "sam at example dot org"; "https://example.com/docs?q=1"
→ "example dot com slash docs". The scheme and any query string or fragment
are not read: nobody says them aloud and they are mostly noise.
"""

from __future__ import annotations

import re

from . import words
from .context import Rule

# Endings that make a bare "word.word" an address rather than a typo'd
# sentence end or an abbreviation. Lower case only, and none that is also a
# common English word ("in", "it", "me", "to", "no", "at", "be", "us"): a
# missing space after a full stop must not become "dot".
TLDS = (
    "com net org edu gov mil int info biz app dev io ai co tv uk ca au nz ie de fr es "
    "nl ch se dk fi pl pt eu jp cn br mx za ru ly gl fm tech online site xyz blog shop store news"
).split()

_LABEL = r"[^\W_](?:[\w-]{0,61}[^\W_])?"
_DOMAIN = r"(?:" + _LABEL + r"\.)+(?:" + "|".join(sorted(TLDS, key=len, reverse=True)) + r")(?![\w-])"
_PATH = r"(?:[/:][^\s<>\"'\[\]]*)?"

_EMAIL = re.compile(
    r"(?<![\w.+-])(?P<local>[\w][\w.+-]{0,63})@(?P<domain>(?:" + _LABEL + r"\.)+" + _LABEL + r")(?![\w-])"
)
_URL = re.compile(
    r"(?<![\w@./])(?:(?P<scheme>[Hh][Tt][Tt][Pp][Ss]?|[Ff][Tt][Pp])://(?P<host>[^\s/?#<>\"'\[\]]+)"
    + r"|(?P<bare>(?:www\.)?"
    + _DOMAIN
    + r"))(?P<path>"
    + _PATH
    + r")"
)

_SYMBOL_WORDS = {
    ".": " dot ", "/": " slash ", "-": " dash ", "_": " underscore ", "~": " tilde ",
    "+": " plus ", ":": " colon ", "=": " equals ", "&": " and ", "%": " percent ", "@": " at ",
}  # fmt: skip
_PIECE = re.compile(r"[^\W\d_]+|[0-9]+|.", re.DOTALL)
_TRAILING = ".,;:!?)]}'\""


def read_piece(text: str) -> str:
    """Read a host, path or user name: symbols named, digits as digits."""
    out = []
    for token in _PIECE.findall(text):
        if token[0].isdigit():
            out.append(words.integer(token) if len(token) <= 4 else words.digits(token))
        elif token in _SYMBOL_WORDS:
            out.append(_SYMBOL_WORDS[token])
        elif token.lower() == "www":
            out.append(words.spell(token))
        elif token[0].isalpha():
            out.append(token)
    return " ".join(" ".join(out).split())


def _email(m: re.Match[str]) -> str:
    return f"{read_piece(m.group('local'))} at {read_piece(m.group('domain'))}"


def _url(m: re.Match[str]) -> str:
    host = m.group("host") or m.group("bare")
    path = m.group("path") or ""
    # Trailing punctuation belongs to the sentence, not the address.
    stripped = path.rstrip(_TRAILING)
    tail = path[len(stripped) :]
    if not path:
        stripped_host = host.rstrip(_TRAILING)
        tail, host = host[len(stripped_host) :], stripped_host
    path = re.split(r"[?#]", stripped, maxsplit=1)[0].rstrip("/")
    spoken = read_piece(host)
    if path:
        spoken += " " + read_piece(path)
    return spoken + tail


RULES: list[Rule] = [(_EMAIL, _email, ("@",)), (_URL, _url, (".",))]
