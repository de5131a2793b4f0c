"""Money, percentages and units of measure.

"$3.50" → "three dollars and fifty cents", "$1.2 million" → "one point two
million dollars", "50%" → "fifty percent", "72°F" → "seventy-two degrees
Fahrenheit", "5 km" → "five kilometers".
"""

from __future__ import annotations

import re

from . import words
from .context import Rule

# A written number: 1,234,567.89 / 3.5 / .5
NUM = r"(?:[0-9]{1,3}(?:,[0-9]{3})+(?![0-9])|[0-9]+)(?:\.[0-9]+)?|\.[0-9]+"


class Currency:
    __slots__ = ("one", "many", "sub_one", "sub_many")

    def __init__(self, one: str, many: str, sub_one: str | None = None, sub_many: str | None = None):
        self.one, self.many, self.sub_one, self.sub_many = one, many, sub_one, sub_many


DOLLAR = Currency("dollar", "dollars", "cent", "cents")
SYMBOLS = {
    "$": DOLLAR,
    "£": Currency("pound", "pounds", "penny", "pence"),
    "€": Currency("euro", "euros", "cent", "cents"),
    "¥": Currency("yen", "yen"),
    "₹": Currency("rupee", "rupees", "paisa", "paise"),
    "₩": Currency("won", "won"),
}
CODES = {
    "USD": DOLLAR,
    "US$": DOLLAR,
    "EUR": SYMBOLS["€"],
    "GBP": SYMBOLS["£"],
    "JPY": SYMBOLS["¥"],
    "INR": SYMBOLS["₹"],
    "CAD": Currency("Canadian dollar", "Canadian dollars", "cent", "cents"),
    "AUD": Currency("Australian dollar", "Australian dollars", "cent", "cents"),
    "CHF": Currency("Swiss franc", "Swiss francs", "centime", "centimes"),
}
SCALES = {
    "thousand": "thousand", "million": "million", "billion": "billion", "trillion": "trillion",
    "k": "thousand", "K": "thousand", "m": "million", "M": "million", "mn": "million",
    "MM": "million", "b": "billion", "B": "billion", "bn": "billion", "tn": "trillion",
}  # fmt: skip
_SCALE = r"(?:[ \t]?(?P<scale>thousand|million|billion|trillion)|(?P<short>k|K|MM|mn|m|M|bn|b|B|tn))(?![\w])"


def _unsign(text: str | None) -> str:
    return "minus " if text else ""


def money(amount: str, currency: Currency, scale: str | None = None) -> str:
    """ "3.50", dollars → "three dollars and fifty cents"."""
    amount = amount.replace(",", "")
    if scale:
        return f"{words.number(amount)} {scale} {currency.many}"
    whole, _, frac = amount.partition(".")
    if frac and currency.sub_one and len(frac) <= 2:
        cents = int(frac.ljust(2, "0"))
        units = whole.lstrip("0")  # a string: int() refuses thousands of digits
        parts = []
        if units or not cents:
            parts.append(f"{words.integer(units or '0')} {currency.one if units == '1' else currency.many}")
        if cents:
            parts.append(f"{words.cardinal(cents)} {currency.sub_one if cents == 1 else currency.sub_many}")
        return " and ".join(parts)
    unit = currency.one if amount in ("1", "01") else currency.many
    return f"{words.number(amount)} {unit}"


_SYMBOL_MONEY = re.compile(
    r"(?<![\w.])(?P<sign>[-−])?(?P<cur>[$£€¥₹₩])[ \t]?(?P<num>" + NUM + r")"
    + r"(?:[ \t]?[-–][ \t]?[$£€¥₹₩]?(?P<num2>" + NUM + r"))?(?:" + _SCALE + r")?"
)  # fmt: skip


def _symbol_money(m: re.Match[str]) -> str:
    currency = SYMBOLS[m.group("cur")]
    scale = m.group("scale") or (SCALES[m.group("short")] if m.group("short") else None)
    sign = _unsign(m.group("sign"))
    if m.group("num2"):
        low = words.number(m.group("num"))
        return f"{sign}{low} to {money(m.group('num2'), currency, scale)}"
    return sign + money(m.group("num"), currency, scale)


_CODES = "|".join(re.escape(c) for c in CODES)
_CODE_AFTER = re.compile(r"(?<![\w.])(?P<num>" + NUM + r")[ \t]?(?P<code>" + _CODES + r")(?![\w])")
_CODE_BEFORE = re.compile(r"(?<![\w.])(?P<code>" + _CODES + r")[ \t]?(?P<num>" + NUM + r")(?:" + _SCALE + r")?")


def _code_money(m: re.Match[str]) -> str:
    scale = None
    if "scale" in m.re.groupindex:
        scale = m.group("scale") or (SCALES[m.group("short")] if m.group("short") else None)
    return money(m.group("num"), CODES[m.group("code")], scale)


_CENTS = re.compile(r"(?<![\w.])(?P<num>[0-9]+)[ \t]?¢")


def _cents(m: re.Match[str]) -> str:
    n = m.group("num")
    return f"{words.integer(n)} cent{'' if n == '1' else 's'}"


_PERCENT = re.compile(
    r"(?<![\w.])(?P<sign>[-−+])?(?P<num>" + NUM + r")(?:[ \t]?[-–][ \t]?(?P<num2>" + NUM + r"))?[ \t]?(?P<p>[%‰])"
)


def _percent(m: re.Match[str]) -> str:
    sign = {"-": "minus ", "−": "minus ", "+": "plus "}.get(m.group("sign") or "", "")
    spoken = sign + words.number(m.group("num"))
    if m.group("num2"):
        spoken += " to " + words.number(m.group("num2"))
    return spoken + (" percent" if m.group("p") == "%" else " per mille")


# abbreviation → (singular, plural). Case matters: "mm" is not "Mm", "MB" is not "mb".
UNITS = {
    "mm": ("millimeter", "millimeters"), "cm": ("centimeter", "centimeters"),
    "m": ("meter", "meters"), "km": ("kilometer", "kilometers"),
    "ft": ("foot", "feet"), "yd": ("yard", "yards"), "mi": ("mile", "miles"),
    "mg": ("milligram", "milligrams"), "mcg": ("microgram", "micrograms"),
    "µg": ("microgram", "micrograms"), "μg": ("microgram", "micrograms"),
    "g": ("gram", "grams"), "kg": ("kilogram", "kilograms"),
    "lb": ("pound", "pounds"), "lbs": ("pound", "pounds"), "oz": ("ounce", "ounces"),
    "fl oz": ("fluid ounce", "fluid ounces"),
    "ml": ("milliliter", "milliliters"), "mL": ("milliliter", "milliliters"),
    "cl": ("centiliter", "centiliters"), "l": ("liter", "liters"), "L": ("liter", "liters"),
    "gal": ("gallon", "gallons"), "cc": ("cubic centimeter", "cubic centimeters"),
    "mph": ("mile per hour", "miles per hour"), "km/h": ("kilometer per hour", "kilometers per hour"),
    "kph": ("kilometer per hour", "kilometers per hour"), "m/s": ("meter per second", "meters per second"),
    "ms": ("millisecond", "milliseconds"), "s": ("second", "seconds"),
    "sec": ("second", "seconds"), "secs": ("second", "seconds"),
    "min": ("minute", "minutes"), "mins": ("minute", "minutes"),
    "h": ("hour", "hours"), "hr": ("hour", "hours"), "hrs": ("hour", "hours"),
    "wk": ("week", "weeks"), "wks": ("week", "weeks"), "yr": ("year", "years"), "yrs": ("year", "years"),
    "tsp": ("teaspoon", "teaspoons"), "tbsp": ("tablespoon", "tablespoons"),
    "°C": ("degree Celsius", "degrees Celsius"), "°F": ("degree Fahrenheit", "degrees Fahrenheit"),
    "°": ("degree", "degrees"),
    "KB": ("kilobyte", "kilobytes"), "kB": ("kilobyte", "kilobytes"), "MB": ("megabyte", "megabytes"),
    "GB": ("gigabyte", "gigabytes"), "TB": ("terabyte", "terabytes"),
    "kbps": ("kilobit per second", "kilobits per second"),
    "Mbps": ("megabit per second", "megabits per second"),
    "Gbps": ("gigabit per second", "gigabits per second"),
    "W": ("watt", "watts"), "kW": ("kilowatt", "kilowatts"), "MW": ("megawatt", "megawatts"),
    "kWh": ("kilowatt hour", "kilowatt hours"), "V": ("volt", "volts"),
    "mAh": ("milliamp hour", "milliamp hours"),
    "Hz": ("hertz", "hertz"), "kHz": ("kilohertz", "kilohertz"),
    "MHz": ("megahertz", "megahertz"), "GHz": ("gigahertz", "gigahertz"),
    "cal": ("calorie", "calories"), "kcal": ("kilocalorie", "kilocalories"),
    "psi": ("pound per square inch", "pounds per square inch"),
    "mmHg": ("millimeter of mercury", "millimeters of mercury"),
    "bpm": ("beat per minute", "beats per minute"),
    "rpm": ("revolution per minute", "revolutions per minute"),
    "mg/dL": ("milligram per deciliter", "milligrams per deciliter"),
    "mg/dl": ("milligram per deciliter", "milligrams per deciliter"),
    "mmol/L": ("millimole per liter", "millimoles per liter"),
    "mg/kg": ("milligram per kilogram", "milligrams per kilogram"),
    "mg/ml": ("milligram per milliliter", "milligrams per milliliter"),
    "mg/mL": ("milligram per milliliter", "milligrams per milliliter"),
    "m^2": ("square meter", "square meters"), "km^2": ("square kilometer", "square kilometers"),
    "cm^2": ("square centimeter", "square centimeters"), "ft^2": ("square foot", "square feet"),
    "sq ft": ("square foot", "square feet"), "sq m": ("square meter", "square meters"),
    "m^3": ("cubic meter", "cubic meters"), "cm^3": ("cubic centimeter", "cubic centimeters"),
}  # fmt: skip
UNIT_ALT = "|".join(re.escape(u) for u in sorted(UNITS, key=len, reverse=True))
# Not after "/": "1/2 tsp" is a fraction of a unit (the fraction rule reads it whole).
_UNIT = re.compile(
    r"(?<![\w./])(?P<sign>[-−])?(?P<num>" + NUM + r")(?:[ \t]?[-–][ \t]?(?P<num2>" + NUM + r"))?"
    + r"[ \t]?(?P<unit>" + UNIT_ALT + r")(?![\w°/^]|\.[^\W\d_])"
)  # fmt: skip


def _unit(m: re.Match[str]) -> str:
    one, many = UNITS[m.group("unit")]
    spoken = _unsign(m.group("sign")) + words.number(m.group("num"))
    if m.group("num2"):
        spoken += " to " + words.number(m.group("num2"))
        return f"{spoken} {many}"
    return f"{spoken} {one if m.group('num') == '1' else many}"


# 5'10" (feet and inches)
_FEET_INCHES = re.compile(r"(?<![\w.'])(?P<ft>[0-9])'[ \t]?(?P<inch>[0-9]{1,2})(?:\"|'')")


def _feet_inches(m: re.Match[str]) -> str:
    ft, inch = int(m.group("ft")), int(m.group("inch"))
    return (
        f"{words.cardinal(ft)} {'foot' if ft == 1 else 'feet'} {words.cardinal(inch)} inch{'' if inch == 1 else 'es'}"
    )


MONEY_RULES: list[Rule] = [
    (_SYMBOL_MONEY, _symbol_money, tuple(SYMBOLS)),
    (_CODE_BEFORE, _code_money, tuple(CODES)),
    (_CODE_AFTER, _code_money, tuple(CODES)),
    (_CENTS, _cents, ("¢",)),
    (_PERCENT, _percent, ("%", "‰")),
]
UNIT_RULES: list[Rule] = [(_FEET_INCHES, _feet_inches, ("'",)), (_UNIT, _unit)]
