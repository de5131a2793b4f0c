"""Abbreviations, titles and initialisms read as words.

"Dr. Smith lives on Elm St." → "Doctor Smith lives on Elm Street."
"St. Mary's" → "Saint Mary's". "U.S." → "you ess". "Mr" → "Mister".
"""

from __future__ import annotations

import re

from . import roman, words
from .context import Rule, ends_sentence, is_capitalized, next_word, prev_word, with_final_dot

# Titles are expanded before a name. The ones that double as street words
# ("Dr." Drive, "St." Street) are read as the street word after a name or a
# house number when no capitalised name follows.
TITLES = {
    "Mr": "Mister", "Mrs": "Missus", "Ms": "Miz", "Mx": "Mix", "Dr": "Doctor",
    "Prof": "Professor", "St": "Saint", "Mt": "Mount", "Ft": "Fort", "Capt": "Captain",
    "Col": "Colonel", "Gen": "General", "Lt": "Lieutenant", "Sgt": "Sergeant",
    "Cpl": "Corporal", "Adm": "Admiral", "Rev": "Reverend", "Hon": "Honorable",
    "Gov": "Governor", "Sen": "Senator", "Rep": "Representative", "Pres": "President",
    "Fr": "Father", "Supt": "Superintendent", "Det": "Detective",
    "Jr": "Junior", "Sr": "Senior", "Esq": "Esquire",
}  # fmt: skip
STREET_READING = {"Dr": "Drive", "St": "Street"}
# Written without the dot in British English; the rest need their dot.
TITLES_WITHOUT_DOT = {"Mr", "Mrs", "Ms", "Mx", "Dr", "Prof", "St", "Mt", "Ft", "Jr", "Sr", "Capt", "Sgt"}
# Typed in lower case (common in quick typing) and still unambiguous before a name.
LOWERCASE_TITLES = {"mr": "Mister", "mrs": "Missus", "dr": "Doctor", "prof": "Professor"}
# Expanded even with no dot and no name after them ("Mr" is never a word).
ALWAYS_EXPANDED = {"Mr", "Mrs", "Dr", "Prof", "Jr", "Sr"}
# Never end a sentence: always followed by a name.
NAME_FOLLOWS = {t for t in TITLES if t not in ("St", "Dr", "Jr", "Sr", "Esq")}

# Address words, read in full after a name ("Elm Ave") or with their dot.
ADDRESS = {
    "Ave": "Avenue", "Blvd": "Boulevard", "Rd": "Road", "Ln": "Lane", "Hwy": "Highway",
    "Pkwy": "Parkway", "Ct": "Court", "Sq": "Square", "Apt": "Apartment", "Ste": "Suite",
}  # fmt: skip

# Exact written forms (case-sensitive; a capitalised first letter also matches).
GENERAL = {
    "e.g.": "for example", "e.g": "for example", "i.e.": "that is", "i.e": "that is",
    "etc.": "et cetera", "etc": "et cetera", "vs.": "versus", "vs": "versus",
    "approx.": "approximately", "appt.": "appointment", "dept.": "department",
    "misc.": "miscellaneous", "govt.": "government", "incl.": "including",
    "Inc.": "Incorporated", "Ltd.": "Limited", "Corp.": "Corporation", "Co.": "Company",
    "Bros.": "Brothers", "a.k.a.": "also known as", "aka": "also known as",
    "cf.": "compare", "et al.": "and others", "w/o": "without", "w/": "with", "and/or": "and or",
    "a.m.": "eigh em", "p.m.": "pee em", "Ph.D.": "pee aitch dee", "PhD": "pee aitch dee",
    "OK": "okay", "BBQ": "barbecue", "Mon.": "Monday", "Tue.": "Tuesday",
    "Tues.": "Tuesday", "Wed.": "Wednesday", "Thu.": "Thursday", "Thurs.": "Thursday",
    "Fri.": "Friday", "Sat.": "Saturday",
    "ext.": "extension", "approx": "approximately", "appt": "appointment",
    "dept": "department", "govt": "government", "ASAP": "as soon as possible", "asap": "as soon as possible",
    "WWII": "World War two", "WWI": "World War one", "pls": "please", "plz": "please", "thx": "thanks",
    "btw": "by the way", "acct": "account", "b/c": "because", "yrs.": "years", "hrs.": "hours", "mins.": "minutes",
}  # fmt: skip

# All-capital initialisms that are spelled letter by letter; users add more
# (or fix these) through their lexicon.
SPELLED = {
    "ALS", "MND", "AAC", "TTS", "MS", "FBI", "CIA", "NSA", "BBC", "CNN", "CEO", "CFO",
    "CTO", "TV", "DIY", "FAQ", "PDF", "URL", "USB", "GPS", "ATM", "DNA", "RNA", "ICU",
    "GP", "NHS", "HTML", "HTTP", "SMS", "MRI", "CT", "IV", "UK", "USA", "EU", "UN",
    "PC", "AI", "VR", "ID", "PT", "OT", "SLP", "CPAP", "EEG", "EMG", "ENT",
    "BP", "HR", "ER", "ECG", "EKG", "UTI", "COPD", "PTSD", "ADHD", "OCD", "IBS", "GI", "ASL",
    "FYI", "ETA", "RSVP", "EST", "EDT", "CST", "CDT", "MST", "PST", "PDT",
    "GMT", "UTC", "BST", "CET",
}  # fmt: skip


def _alternation(forms: list[str]) -> str:
    parts = []
    for form in sorted(forms, key=len, reverse=True):
        tail = r"(?!\w)" if form[-1].isalnum() or form[-1] == "." else ""
        parts.append(re.escape(form) + tail)
    return "|".join(parts)


def _general_forms() -> dict[str, str]:
    forms = dict(GENERAL)
    for form, spoken in GENERAL.items():
        forms.setdefault(form[0].upper() + form[1:], spoken[0].upper() + spoken[1:])
    return forms


_GENERAL_FORMS = _general_forms()
_GENERAL = re.compile(r"(?<![\w.])(?:" + _alternation(list(_GENERAL_FORMS)) + ")")


def _general(m: re.Match[str]) -> str:
    return with_final_dot(_GENERAL_FORMS[m.group(0)], m)


_TITLE = re.compile(
    r"(?<![\w.'-])(?P<abbr>" + "|".join(sorted(TITLES, key=len, reverse=True)) + r")(?P<dot>\.)?(?![\w'-])"
)


# Words that follow a street ("Elm St. Apt. 4", "Main St. Suite 200") rather than a saint's name.
AFTER_STREET = {"Apt", "Apartment", "Ste", "Suite", "Unit", "Fl", "Floor", "Room", "Rm", "Bldg", "Building"}


def _street_position(text: str, start: int, following: str) -> bool:
    """True where "St."/"Dr." stands after a street name and before "Apt", "Suite", ..."""
    before = prev_word(text, start)
    return following in AFTER_STREET and (is_capitalized(before) or before[:1].isdigit())


def _after_a_name(text: str, start: int) -> bool:
    """True where a capitalised possessive stands before ``start`` ("Mary's St.", "King's St."): a street's name."""
    before = prev_word(text, start)
    return is_capitalized(before) and before.endswith(("'s", "\u2019s"))


def _title(m: re.Match[str]) -> str:
    abbr, dot, text = m.group("abbr"), m.group("dot"), m.string
    if not dot and abbr not in TITLES_WITHOUT_DOT:
        return m.group(0)
    following = next_word(text, m.end())
    name_follows = is_capitalized(following)
    if abbr in STREET_READING and name_follows and _street_position(text, m.start(), following):
        return with_final_dot(STREET_READING[abbr], m)
    if abbr == "St" and dot and name_follows and _after_a_name(text, m.start()):
        return STREET_READING[abbr] + "."  # "Mary's St. Bring ...": the street ends the sentence, its dot stays
    if abbr in STREET_READING and not name_follows:
        before = prev_word(text, m.start())
        if is_capitalized(before) or before[:1].isdigit():
            return with_final_dot(STREET_READING[abbr], m)
        if not dot:
            return m.group(0)  # a bare "St" or "Dr" with no name around: leave it
    elif not dot and not name_follows and abbr not in ALWAYS_EXPANDED:
        return m.group(0)
    return with_final_dot(TITLES[abbr], m)


_LOWER_TITLE = re.compile(r"(?<![\w.'-])(?P<abbr>mrs|mr|dr|prof)\.?(?=\s+[^\W\d_])")


def _lower_title(m: re.Match[str]) -> str:
    return LOWERCASE_TITLES[m.group("abbr")]


_ADDRESS = re.compile(
    r"(?<![\w.'-])(?P<abbr>" + "|".join(sorted(ADDRESS, key=len, reverse=True)) + r")(?P<dot>\.)?(?![\w'-])"
)


def _address(m: re.Match[str]) -> str:
    before = prev_word(m.string, m.start())
    if m.group("dot") or is_capitalized(before) or before[:1].isdigit():
        return with_final_dot(ADDRESS[m.group("abbr")], m)
    return m.group(0)


# "U.S.", "U.S.A.", "F.B.I." (two or more single letters each with a dot).
_DOTTED = re.compile(r"(?<![\w.])(?:[A-Za-z]\.){2,}(?![\w])|(?<![\w.])(?:[A-Za-z]\.)+[A-Za-z](?![\w.])")


def _dotted(m: re.Match[str]) -> str:
    return with_final_dot(words.spell(m.group(0)), m)


_SPELLED = re.compile(r"(?<![\w.'-])(?:" + "|".join(sorted(SPELLED, key=len, reverse=True)) + r")(?:'?s)?(?![\w'-])")


def _spelled(m: re.Match[str]) -> str:
    token = m.group(0)
    if token in SPELLED:
        return words.spell(token)
    stem = token[:-2] if token.endswith("'s") else token[:-1]  # "CEOs", "CEO's"
    return words.spell(stem) + "'s"


# A lone capital initial before a name: "J. K. Rowling" → "jay kay Rowling".
_INITIAL = re.compile(r"(?<![\w.'-])([A-Z])\.(?=[ \t]+[A-Z])")


def _initial(m: re.Match[str]) -> str:
    if ends_sentence(m.string, m.end()):
        return m.group(0)
    return words.spell(m.group(1))


# Run before the number rules, while house numbers and "WW2" are still digits.
# "123 Main St.", "221B Baker St.": a house number, then the capitalised street name.
_HOUSE_STREET = re.compile(
    r"(?<![\w.,])(?P<before>[0-9][0-9A-Za-z-]{0,8},?[ \t]+(?:[A-Z][\w'-]*[ \t]+){1,3})(?P<abbr>St|Dr)(?P<dot>\.)?(?![\w'-])"
)


def _house_street(m: re.Match[str]) -> str:
    return m.group("before") + with_final_dot(STREET_READING[m.group("abbr")], m)


# "apt. 4B", "apt #12"; elsewhere "apt." is the word ("That was apt.").
_APARTMENT = re.compile(r"(?<![\w.])apt\.?(?=[ \t]?#?[ \t]?[0-9])")
_WORLD_WAR = re.compile(r"(?<![\w.])WW ?(?P<n>[12])(?![\w])")
# "ext. 1234": an extension's digits are read one by one.
_EXTENSION = re.compile(r"(?<![\w.])(?:ext|Ext|EXT)\.?[ \t]?(?P<n>[0-9]{1,6})(?![\w]|[.,][0-9])")

EARLY_RULES: list[Rule] = [
    (_HOUSE_STREET, _house_street, ("St", "Dr")),
    (_APARTMENT, lambda m: "apartment", ("apt",)),
    (_WORLD_WAR, lambda m: "World War " + words.cardinal(int(m.group("n"))), ("WW",)),
    (_EXTENSION, lambda m: "extension " + words.digits(m.group("n")), ("xt", "XT")),
]

RULES: list[Rule] = [
    *roman.RULES,
    (_GENERAL, _general),
    (_DOTTED, _dotted, (".",)),
    (_TITLE, _title),
    (_LOWER_TITLE, _lower_title),
    (_ADDRESS, _address),
    (_SPELLED, _spelled),
    (_INITIAL, _initial, (".",)),
]

# For the sentence splitter (lower case, without the final dot).
# A dot after these never ends a sentence:
NO_BREAK_AFTER = {t.lower() for t in NAME_FOLLOWS if t != "Ft"} | {"e.g", "i.e", "vs", "cf", "approx", "w"}
# ... after these, only when no number follows ("No. 5", "p. 12", "vol. 3"):
BREAK_UNLESS_NUMBER = {"no", "nos", "p", "pp", "vol", "ch", "fig", "eq", "art", "sec", "ext"}
# ... after these, only when a typical sentence opener follows ("... Inc. The next day"):
MAYBE_BREAK_AFTER = (
    {"st", "dr", "ft", "jr", "sr", "esq", "etc", "inc", "ltd", "corp", "co", "bros", "ph.d"}
    | {a.lower() for a in ADDRESS}
    | {"jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec"}
    | {"mon", "tue", "tues", "wed", "thu", "thurs", "fri", "sat", "sun"}
    | {"dept", "misc", "govt", "incl", "appt", "a.k.a", "al"}
)
