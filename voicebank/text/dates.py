"""Dates and clock times.

US English: "3/14/2025" is month/day/year ("March fourteenth, twenty
twenty-five") unless the first number cannot be a month ("14/3/2025" → "the
fourteenth of March, ..."); dotted dates ("14.03.2024") are day.month.year.
"""

from __future__ import annotations

import re

from . import words
from .context import Rule, prev_word, with_final_dot

MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
_MONTH_ABBREVIATIONS = {
    "Jan": 1, "Feb": 2, "Mar": 3, "Apr": 4, "Jun": 6, "Jul": 7, "Aug": 8,
    "Sep": 9, "Sept": 9, "Oct": 10, "Nov": 11, "Dec": 12,
}  # fmt: skip
_MONTH_FORMS = {name: i for i, name in enumerate(MONTHS, 1)} | _MONTH_ABBREVIATIONS
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTH_FORMS, key=len, reverse=True)) + r")\.?"
_DAY_SUFFIX = r"(?:st|nd|rd|th)?"
_NOT_MORE_NUMBER = r"(?![0-9]|[.,:/-][0-9]|[^\W\d_])"


def _month(form: str) -> int:
    return _MONTH_FORMS[form]


def _two_digit_year(y: str) -> int:
    n = int(y)
    if len(y) == 2:
        return 2000 + n if n < 50 else 1900 + n
    return n


def month_day(month: int, day: int) -> str:
    return f"{MONTHS[month - 1]} {words.ordinal(day)}"


def day_of_month(month: int, day: int, *, article: bool = True) -> str:
    the = "the " if article else ""
    return f"{the}{words.ordinal(day)} of {MONTHS[month - 1]}"


def _valid(month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= 31


# 2024-03-14 and 2024/03/14
_ISO = re.compile(
    r"(?<![\w.\-/])(?P<y>[0-9]{4})(?P<sep>[-/])(?P<m>[0-9]{1,2})(?P=sep)(?P<d>[0-9]{1,2})" + _NOT_MORE_NUMBER
)


def _iso(m: re.Match[str]) -> str:
    month, day = int(m.group("m")), int(m.group("d"))
    if not _valid(month, day):
        return m.group(0)
    return f"{month_day(month, day)}, {words.year(int(m.group('y')))}"


# 3/14/2025, 3-14-25 (US), 14/3/2025 (day first when it cannot be a month)
_NUMERIC = re.compile(
    r"(?<![\w.\-/])(?P<a>[0-9]{1,2})(?P<sep>[/-])(?P<b>[0-9]{1,2})(?P=sep)(?P<y>[0-9]{4}|[0-9]{2})" + _NOT_MORE_NUMBER
)


def _numeric(m: re.Match[str]) -> str:
    a, b = int(m.group("a")), int(m.group("b"))
    y = words.year(_two_digit_year(m.group("y")))
    if _valid(a, b):
        return f"{month_day(a, b)}, {y}"
    if _valid(b, a):
        return f"{day_of_month(b, a)}, {y}"
    return m.group(0)


# 14.03.2024 (day.month.year)
_DOTTED = re.compile(r"(?<![\w.])(?P<d>[0-9]{1,2})\.(?P<m>[0-9]{1,2})\.(?P<y>[0-9]{4})" + _NOT_MORE_NUMBER)


def _dotted(m: re.Match[str]) -> str:
    day, month = int(m.group("d")), int(m.group("m"))
    if not _valid(month, day):
        return m.group(0)
    return f"{day_of_month(month, day)}, {words.year(int(m.group('y')))}"


# March 3, 2024 / Mar. 3rd / March 3-5 / March 2024
_MONTH_DAY = re.compile(
    r"(?<![\w.])" + _MONTH + r"[ \t]+(?P<d>[0-9]{1,2})" + _DAY_SUFFIX
    + r"(?:[ \t]?[-–][ \t]?(?P<d2>[0-9]{1,2})" + _DAY_SUFFIX + r")?"
    + r"(?:,?[ \t]+(?P<y>[0-9]{4}))?" + _NOT_MORE_NUMBER
)  # fmt: skip


def _month_day(m: re.Match[str]) -> str:
    month, day = _month(m.group("month")), int(m.group("d"))
    if not _valid(month, day):
        return m.group(0)
    spoken = month_day(month, day)
    if m.group("d2"):
        day2 = int(m.group("d2"))
        if not _valid(month, day2):
            return m.group(0)
        spoken += " to " + words.ordinal(day2)
    if m.group("y"):
        spoken += ", " + words.year(int(m.group("y")))
    return spoken


_MONTH_YEAR = re.compile(r"(?<![\w.])" + _MONTH + r"[ \t]+(?P<y>[0-9]{4})" + _NOT_MORE_NUMBER)


def _month_year(m: re.Match[str]) -> str:
    return f"{MONTHS[_month(m.group('month')) - 1]} {words.year(int(m.group('y')))}"


# 3 March 2024 / 3rd of March
_DAY_MONTH = re.compile(
    r"(?<![\w.,])(?P<d>[0-9]{1,2})" + _DAY_SUFFIX + r"[ \t]+(?:of[ \t]+)?" + _MONTH
    + r"(?:,?[ \t]+(?P<y>[0-9]{4}))?" + _NOT_MORE_NUMBER
)  # fmt: skip


def _day_month(m: re.Match[str]) -> str:
    month, day = _month(m.group("month")), int(m.group("d"))
    if not _valid(month, day):
        return m.group(0)
    article = prev_word(m.string, m.start()).lower() != "the"
    spoken = day_of_month(month, day, article=article)
    if m.group("y"):
        spoken += ", " + words.year(int(m.group("y")))
    return spoken


_AM_PM = r"(?P<ap>[aApP])\.?[ \t]?[mM](?P<apdot>\.)?(?![\w])"

# 3:30, 14:05, 3:30 pm, 3:30:15
_CLOCK = re.compile(
    r"(?<![\w:.])(?P<h>[0-9]{1,2}):(?P<m>[0-9]{2})(?::(?P<s>[0-9]{2}))?"
    + r"(?:[ \t]?" + _AM_PM + r")?(?![\w:]|[.,][0-9])"
)  # fmt: skip
# 10.05 am (British): a dot between hour and minutes, only with am/pm after.
_DOT_CLOCK = re.compile(r"(?<![\w:.,$£€])(?P<h>[0-9]{1,2})\.(?P<m>[0-9]{2})(?P<s>)[ \t]?" + _AM_PM)
# 3pm, 11 a.m.
_HOUR = re.compile(r"(?<![\w:.,])(?P<h>[0-9]{1,2})[ \t]?" + _AM_PM)


def _minutes(minute: int) -> str:
    return f"oh {words.cardinal(minute)}" if minute < 10 else words.cardinal(minute)


def _am_pm(m: re.Match[str]) -> str:
    return "eigh em" if m.group("ap") in "aA" else "pee em"


def _clock(m: re.Match[str]) -> str:
    hour, minute = int(m.group("h")), int(m.group("m"))
    second = int(m.group("s")) if m.group("s") else None
    ap = m.group("ap")
    if minute > 59 or (second is not None and second > 59):
        return m.group(0)
    if ap and not 0 <= hour <= 12 or hour > 23:
        return m.group(0)
    if ap:
        spoken = words.cardinal(hour if hour else 12)
        if minute:
            spoken += " " + _minutes(minute)
    elif hour == 0 and minute == 0 and not second:
        spoken = "midnight"
    else:
        spoken = words.cardinal(hour)
        if minute:
            spoken += " " + _minutes(minute)
        elif hour <= 12:
            spoken += " o'clock"
        else:
            spoken += " hundred"
    if second:
        spoken += f" and {words.cardinal(second)} second{'s' if second != 1 else ''}"
    if ap:
        spoken += " " + _am_pm(m)
        return with_final_dot(spoken, m)
    return spoken


def _hour(m: re.Match[str]) -> str:
    hour = int(m.group("h"))
    if not 1 <= hour <= 12:
        return m.group(0)
    return with_final_dot(f"{words.cardinal(hour)} {_am_pm(m)}", m)


RULES: list[Rule] = [
    (_CLOCK, _clock, (":",)),
    (_DOT_CLOCK, _clock, ("m", "M")),
    (_HOUR, _hour, ("m", "M")),
    (_ISO, _iso, ("-", "/")),
    (_NUMERIC, _numeric, ("-", "/")),
    (_DOTTED, _dotted, (".",)),
    (_MONTH_DAY, _month_day),
    (_DAY_MONTH, _day_month),
    (_MONTH_YEAR, _month_year),
]
