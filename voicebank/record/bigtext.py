"""Large letters for the terminal: a 5-pixel capital font drawn with half blocks.

Each glyph is 5 pixels high; two pixel rows share one character cell (``▀ ▄ █``), so a
line of big text takes 3 terminal rows and each letter is about three times the
height of ordinary text, readable from a chair a metre or two from the screen.
Letters are capitals; accents are dropped (the exact text is shown small underneath).
"""

from __future__ import annotations

import unicodedata

_RAW = {
    "A": ".##.|#..#|####|#..#|#..#", "B": "###.|#..#|###.|#..#|###.", "C": ".###|#...|#...|#...|.###",
    "D": "###.|#..#|#..#|#..#|###.", "E": "####|#...|###.|#...|####", "F": "####|#...|###.|#...|#...",
    "G": ".###|#...|#.##|#..#|.###", "H": "#..#|#..#|####|#..#|#..#", "I": "###|.#.|.#.|.#.|###",
    "J": "..##|...#|...#|#..#|.##.", "K": "#..#|#.#.|##..|#.#.|#..#", "L": "#...|#...|#...|#...|####",
    "M": "#...#|##.##|#.#.#|#...#|#...#", "N": "#..#|##.#|#.##|#..#|#..#", "O": ".##.|#..#|#..#|#..#|.##.",
    "P": "###.|#..#|###.|#...|#...", "Q": ".##.|#..#|#..#|#.#.|.#.#", "R": "###.|#..#|###.|#.#.|#..#",
    "S": ".###|#...|.##.|...#|###.", "T": "#####|..#..|..#..|..#..|..#..", "U": "#..#|#..#|#..#|#..#|.##.",
    "V": "#...#|#...#|.#.#.|.#.#.|..#..", "W": "#...#|#...#|#.#.#|##.##|#...#", "X": "#..#|#..#|.##.|#..#|#..#",
    "Y": "#...#|.#.#.|..#..|..#..|..#..", "Z": "####|...#|.##.|#...|####",
    "0": ".#.|#.#|#.#|#.#|.#.", "1": ".#.|##.|.#.|.#.|###", "2": "###.|...#|.##.|#...|####",
    "3": "###.|...#|.##.|...#|###.", "4": "#..#|#..#|####|...#|...#", "5": "####|#...|###.|...#|###.",
    "6": ".##.|#...|###.|#..#|.##.", "7": "####|...#|..#.|.#..|.#..", "8": ".##.|#..#|.##.|#..#|.##.",
    "9": ".##.|#..#|.###|...#|.##.",
    ".": ".|.|.|.|#", ",": "..|..|..|.#|#.", "!": "#|#|#|.|#", "?": "###.|...#|.##.|....|.#..",
    "'": "#|#|.|.|.", '"': "#.#|#.#|...|...|...", "-": "...|...|###|...|...", ":": ".|#|.|#|.",
    ";": "..|.#|..|.#|#.", "(": ".#|#.|#.|#.|.#", ")": "#.|.#|.#|.#|#.", "/": "...#|..#.|.#..|#...|....",
    "&": ".#..|#.#.|.#.#|#.#.|.#.#", "%": "#..#|..#.|.#..|#...|#..#", "$": ".###|##..|.##.|..##|###.",
    "£": "..##|.#..|###.|.#..|####", "€": ".###|#...|###.|#...|.###", "+": "...|.#.|###|.#.|...",
    "=": "...|###|...|###|...", "#": ".#.#.|#####|.#.#.|#####|.#.#.", "@": ".##.|#..#|#.##|#...|.###",
    "*": "#.#|.#.|#.#|...|...", " ": "..|..|..|..|..",
}
_FALLBACK = "###|#.#|#.#|#.#|###"
_SUBSTITUTES = {"‘": "'", "’": "'", "‚": ",", "“": '"', "”": '"', "„": '"', "–": "-", "—": "-", "…": "..."}
GLYPHS: dict[str, list[str]] = {k: v.split("|") for k, v in _RAW.items()}
ROWS = 3  # terminal rows per line of big text


def _normalise(text: str) -> str:
    out = []
    for ch in text:
        ch = _SUBSTITUTES.get(ch, ch)
        if ch.upper() not in GLYPHS and len(ch) == 1:
            base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
            ch = base or ch
        out.append(ch.upper())
    return "".join(out)


def _glyph(ch: str) -> list[str]:
    return GLYPHS.get(ch) or _FALLBACK.split("|")


def word_width(word: str) -> int:
    """Columns a word takes in big letters (letters plus one column between them)."""
    word = _normalise(word)
    return sum(len(_glyph(c)[0]) + 1 for c in word) - 1 if word else 0


def _render_word_pixels(word: str) -> list[str]:
    rows = ["", "", "", "", ""]
    for i, ch in enumerate(word):
        g = _glyph(ch)
        for r in range(5):
            rows[r] += ("." if i else "") + g[r]
    return rows


def _to_cells(pixels: list[str]) -> list[str]:
    pairs = [(pixels[0], pixels[1]), (pixels[2], pixels[3]), (pixels[4], "." * len(pixels[4]))]
    table = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}
    return ["".join(table[(a == "#", b == "#")] for a, b in zip(top, bottom, strict=True)) for top, bottom in pairs]


def wrap_big(text: str, width: int) -> list[str] | None:
    """Split ``text`` into lines of words that fit ``width`` columns in big letters.

    None when a single word is wider than ``width`` (the caller falls back to plain text).
    """
    lines: list[str] = []
    current: list[str] = []
    used = 0
    space = len(GLYPHS[" "][0]) + 2
    for word in _normalise(text).split():
        w = word_width(word)
        if w > width:
            return None
        need = w if not current else used + space + w
        if current and need > width:
            lines.append(" ".join(current))
            current, used = [word], w
        else:
            current.append(word)
            used = need
    if current:
        lines.append(" ".join(current))
    return lines


def render_line(line: str) -> list[str]:
    """One line of words as ``ROWS`` strings of block characters."""
    pixels = ["", "", "", "", ""]
    for i, word in enumerate(_normalise(line).split()):
        word_px = _render_word_pixels(word)
        for r in range(5):
            pixels[r] += ("." * (len(GLYPHS[" "][0]) + 2) if i else "") + word_px[r]
    return _to_cells(pixels)


def render(text: str, width: int, gap: int = 1) -> list[str] | None:
    """``text`` in big letters wrapped to ``width`` columns, ``gap`` blank rows between lines.

    None when it cannot fit the width at all.
    """
    lines = wrap_big(text, width)
    if lines is None:
        return None
    out: list[str] = []
    for i, line in enumerate(lines):
        if i:
            out.extend([""] * gap)
        out.extend(render_line(line))
    return out
