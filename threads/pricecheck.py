"""Find the money amounts in a model reply and check them against the catalogue's prices.

A wrong price must never reach a user, so the checker leans to caution: every number written
next to a money marker ("$", "US$", "MXN", "pesos", "€"...) is an amount, an amount that is not a
catalogue price (in the currency the text names, if any) is wrong, and `remove_wrong_amounts`
cuts out the sentences that carry one. A number it cannot read ("4.5900") is wrong, never
skipped. Plain numbers (dates, session counts, phones, percentages) are not money.
It is pure and regex-driven, cheap enough to run on every reply.
"""

import functools
import re
from bisect import bisect_left
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Context, Decimal, InvalidOperation
from itertools import pairwise

from courses.text import fold

# Where a sentence ends, for which course names share an amount's sentence.
_SENTENCE_MARKS = (". ", "! ", "? ", "\n")
# A course name's letters as they may be written in a reply (case is ignored by the pattern).
_ACCENT_CLASSES = {"a": "[aáàäâã]", "e": "[eéèëê]", "i": "[iíìïî]", "o": "[oóòöôõ]", "u": "[uúùüû]", "n": "[nñ]"}
# Shorter course names ("IA") would be found inside ordinary words.
_MIN_COURSE_NAME = 6

# ISO 4217 codes recognised before or after a number, in any case. Codes that are ordinary or tech
# words in our replies ("TOP 10", "PHP 8", "ALL", "SOS", "TRY", "AMD", "SDG 4") are left out: a
# false hit would cut a good sentence, and nobody sells us courses in leks or rands.
# fmt: off
_CODES = frozenset({
    "AED", "AFN", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BBD", "BDT", "BGN", "BHD", "BIF", "BMD", "BND", "BOB",
    "BRL", "BSD", "BWP", "BYN", "BZD", "CAD", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CZK", "DJF", "DKK", "DOP",
    "DZD", "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD", "HNL",
    "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "ISK", "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW",
    "KWD", "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MGA", "MKD", "MMK", "MNT", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NGN", "NIO", "NOK", "NZD", "OMR", "PAB", "PEN", "PGK", "PKR", "PLN", "PYG", "QAR",
    "RSD", "RUB", "RWF", "SAR", "SBD", "SCR", "SEK", "SGD", "SLE", "SRD", "SSP", "STN", "SYP", "SZL", "THB", "TJS",
    "TMT", "TND", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS", "VES", "VND", "VUV", "WST", "XAF", "XCD",
    "XOF", "XPF", "YER", "ZMW", "ZWL",
})
# fmt: on
# Codes that are also Spanish words ("¿ves?", "bob"): recognised only in capitals.
_CAPITALS_ONLY = frozenset({"BOB", "CUP", "PEN", "VES"})

# Letters glued to a dollar sign: "US$", "MX$", "R$" (any recognised code works too: "CLP$").
_DOLLAR_PREFIXES = {"US": "USD", "MX": "MXN", "MEX": "MXN", "CA": "CAD", "AU": "AUD", "R": "BRL"}
_SYMBOL_CURRENCIES = {"€": "EUR", "£": "GBP"}  # the dollar signs name no currency on their own
# Currency words after a number (folded), and the adjectives that change them ("pesos colombianos").
_WORD_CURRENCIES = {
    "peso": "MXN",
    "pesos": "MXN",
    "dolar": "USD",
    "dolares": "USD",
    "dls": "USD",
    "dlls": "USD",
    "euro": "EUR",
    "euros": "EUR",
    "soles": "PEN",
    "reales": "BRL",
}
_ADJECTIVE_CURRENCIES = {
    "mexicano": "MXN",
    "mexicanos": "MXN",
    "mx": "MXN",
    "argentinos": "ARS",
    "colombianos": "COP",
    "chilenos": "CLP",
    "uruguayos": "UYU",
    "dominicanos": "DOP",
    "cubanos": "CUP",
    "filipinos": "PHP",
    "americanos": "USD",
    "estadounidenses": "USD",
    "canadienses": "CAD",
    "australianos": "AUD",
}

_DOLLARS = "$\uff04\ufe69"  # the dollar sign, its fullwidth and its small form
_SYMBOLS = _DOLLARS + "€£"
_GROUP_SPACES = " \u00a0\u2007\u2009\u202f"  # "4 590" with a space, NBSP, figure, thin or narrow NBSP
# Between marker and number: one space, and WhatsApp emphasis marks ("*$4,590* MXN").
_GAP_CHARS = frozenset("*_~\t" + _GROUP_SPACES)
_GAP = rf"[*_~]{{0,2}}[\t{_GROUP_SPACES}]?[*_~]{{0,2}}"
_NOT_AFTER_LETTER = r"(?<![^\W\d_])"
_NOT_BEFORE_LETTER = r"(?![^\W\d_])"

# Digits, grouped by spaces ("4 590") or by "." and "," ("4.590,00"); `_read_amount` decides what
# each separator means. Starting at a digit lets the engine skip ahead quickly.
_NUMBER = re.compile(rf"(?=\d)(?:\d{{1,3}}(?:[{_GROUP_SPACES}]\d{{3}}(?!\d))+(?:[.,]\d+)*|\d+(?:[.,]\d+)*)")
# The marker before a number, searched in the few characters before it (hence the \Z anchors).
_PREFIX = re.compile(
    rf"{_NOT_AFTER_LETTER}(?P<code>[A-Za-z]{{3}}){_GAP}(?P<code_symbol>[{_SYMBOLS}])?{_GAP}\Z"
    rf"|(?:{_NOT_AFTER_LETTER}(?P<letters>[A-Za-z]{{1,3}}))?(?P<symbol>[{_SYMBOLS}]){_GAP}\Z"
    rf"|{_NOT_AFTER_LETTER}(?P<uds>[Uu][{_DOLLARS}][SsDd]){_GAP}\Z"  # Argentina's "U$S"
    rf"|{_NOT_AFTER_LETTER}(?P<soles>S/\.?){_GAP}\Z"  # Peru's "S/ 349"
)
# What may follow a number: "mil"/"k", then a symbol, a currency word, "M.N." or a code. A code
# followed by another number belongs to that number ("2 USD 349" is "USD 349").
_SUFFIX = re.compile(
    rf"(?:{_GAP}(?P<thousands>(?i:mil|k)){_NOT_BEFORE_LETTER})?"
    rf"(?:{_GAP}(?:"
    rf"(?P<symbol>[{_SYMBOLS}])"
    rf"|(?P<word>(?i:pesos?|d[oó]\u0301?lar(?:es)?|dll?s|euros?|soles|reales)){_NOT_BEFORE_LETTER}"
    rf"(?:[ \u00a0](?P<adjective>[^\W\d_]+))?"
    rf"|(?P<mn>(?i:m\.[ \u00a0]?n\.)|MN{_NOT_BEFORE_LETTER})"
    rf"|(?P<code>[A-Za-z]{{3}}){_NOT_BEFORE_LETTER}(?!{_GAP}[{_SYMBOLS}]?{_GAP}\d)"
    r"))?"
)
_PREFIX_REACH = 8  # longest prefix: "MXN $ " plus emphasis marks

_SEPARATOR = re.compile(rf"([.,{_GROUP_SPACES}])")
_MAX_NUMBER_CHARS = 24  # "1,234,567,890,123,456.78": longer is not a price, and Decimal stays exact
_UNREADABLE = Decimal("NaN")  # equal to no price, so the amount is always wrong
_EXACT = Context(prec=60)  # our own context: the thread's could trap or round
_THOUSAND = Decimal(1000)

# A sentence ends after . ! ? or … (and closing quotes or emphasis) followed by a space; after a
# plain "." only when the next word is not lower case, so "aprox. $999" stays one sentence.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'”’»)\]*_~]*")
# A list line: "- ", "• ", "✅ ", "1. ", "2) ", "a) ", "1️⃣ ".
_LIST_ITEM = re.compile(r"\s*(?:\d{1,3}[.)]|\d\ufe0f?\u20e3|[A-Za-z][.)]|[^\w\s]{1,3})\s")
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class Money:
    """An amount of money as written in a reply."""

    text: str  # as written, e.g. "$4,590 MXN"
    amount: Decimal  # Decimal("NaN") when the digits cannot be read as one number
    currency: str | None  # the code the text names; None for a bare "$"; "USD/MXN" for two different ones
    start: int
    end: int  # text == reply[start:end]


@dataclass(frozen=True)
class PriceCheck:
    """The amounts found in a reply, and those that are not catalogue prices."""

    found: list[Money]
    wrong: list[Money]

    @property
    def ok(self) -> bool:
        return not self.wrong

    def as_record(self) -> dict[str, list[str]]:
        """Return the amounts as written, for logs and JSON fields."""
        return {"found": [money.text for money in self.found], "wrong": [money.text for money in self.wrong]}


def find_money(text: str) -> list[Money]:
    """Return the amounts of money in `text`, in order: numbers attached to a money marker."""
    if not text:
        return []
    found: list[Money] = []
    last_end = 0
    for number in _NUMBER.finditer(text):
        start, end = number.span()
        currencies: list[str] = []
        marked = False
        if _may_follow_prefix(text, start):
            prefix = _PREFIX.search(text, max(last_end, start - _PREFIX_REACH), start)
            if prefix is not None:
                prefix_start, currency = _read_prefix(prefix)
                if prefix_start is not None:
                    marked, start = True, prefix_start
                    if currency:
                        currencies.append(currency)
        thousands = False
        suffix = _SUFFIX.match(text, end) if _may_precede_suffix(text, end) else None
        if suffix is not None and suffix.end() > end:
            suffix_end, currency = _read_suffix(suffix)
            if suffix_end is not None:
                marked, end = True, suffix_end
                if currency:
                    currencies.append(currency)
            if suffix["thousands"] is not None and marked:
                thousands, end = True, max(end, suffix.end("thousands"))
        if not marked:
            continue
        amount = _read_amount(number.group())
        if thousands:
            amount = _EXACT.multiply(amount, _THOUSAND)
        found.append(Money(text[start:end], amount, _join_currencies(currencies), start, end))
        last_end = end
    return found


def check_prices(
    text: str,
    prices: Collection[tuple[Decimal, str]],
    *,
    courses: Mapping[str, Collection[tuple[Decimal, str]]] | None = None,
) -> PriceCheck:
    """Check every amount in `text` against the catalogue's (price, currency) pairs.

    An amount with a currency must match a price in that currency; a bare "$" amount may match
    a price in any currency, since "$" is how both pesos and dollars are written. With `courses`
    (course name → its own amounts), an amount next to a course's name must be one of that
    course's: "IA generativa para marketing: $3,990 MXN" is wrong even though another course
    costs 3,990 (see `_courses_of` for which names count as next to it).
    """
    exact, amounts = _index_prices(prices)
    found = find_money(text)
    mentions = _course_mentions(text, courses) if courses and found else []
    wrong = []
    indexed: dict[tuple[str, ...], tuple[set[tuple[Decimal, str]], set[Decimal]]] = {(): (exact, amounts)}
    for money in found:
        named = _courses_of(text, money, mentions)
        if named not in indexed and courses:
            indexed[named] = _index_prices([amount for name in named for amount in courses[name]])
        if not _is_price(money, *indexed[named]):
            wrong.append(money)
    return PriceCheck(found=found, wrong=wrong)


def check_catalogue_prices(text: str, catalogue: Mapping[str, Collection[tuple[Decimal, str]]]) -> PriceCheck:
    """Check a reply against a catalogue given as course name → its amounts (`courses.selectors.get_course_amounts`)."""
    return check_prices(text, [amount for amounts in catalogue.values() for amount in amounts], courses=catalogue)


def remove_wrong_amounts(text: str, wrong: Sequence[Money]) -> str:
    """Return `text` without the sentences, or whole list lines, that contain a wrong amount.

    Return `text` untouched when `wrong` is empty, and "" when nothing with a letter or digit
    remains. `wrong` should come from `check_prices` on this same text; an amount whose span does
    not match is looked up by its text instead, so a stale span cannot let it through.
    """
    if not text:
        return ""
    if not wrong:
        return text
    bad_starts = sorted({start for money in wrong for start in _locate(text, money)})
    if not bad_starts:
        return text
    spans = [(money.start, money.end) for money in find_money(text)]
    span_starts = [start for start, _ in spans]
    kept: list[str] = []
    offset = 0
    for raw_line in text.splitlines(keepends=True):
        line = raw_line.rstrip("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
        line_end = offset + len(line)
        first_bad, after_bad = bisect_left(bad_starts, offset), bisect_left(bad_starts, line_end)
        if first_bad == after_bad:
            kept.append(line.rstrip())
        elif not _LIST_ITEM.match(line):
            bad = [start - offset for start in bad_starts[first_bad:after_bad]]
            first_span, after_span = bisect_left(span_starts, offset), bisect_left(span_starts, line_end)
            line_spans = [(start - offset, end - offset) for start, end in spans[first_span:after_span]]
            sentences = [line[a:b].strip() for a, b in _sentence_bounds(line, line_spans) if not _any_in(bad, a, b)]
            rest = " ".join(sentence for sentence in sentences if sentence)
            if _has_content(rest):
                kept.append(rest)
        offset += len(raw_line)
    result = _BLANK_LINES.sub("\n\n", "\n".join(kept)).strip()
    return result if _has_content(result) else ""


def _may_follow_prefix(text: str, start: int) -> bool:
    """Tell cheaply whether a marker may end just before `start`, to spare most `_PREFIX` searches."""
    at = start
    while at > 0 and start - at < 5 and text[at - 1] in _GAP_CHARS:
        at -= 1
    if at == 0:
        return False
    before = text[at - 1]
    if before in _SYMBOLS or before in "/.":
        return True
    if before in "SsDd" and at >= 2 and text[at - 2] in _DOLLARS:  # "U$S"
        return True
    word = text[max(0, at - 3) : at]  # a code: three ASCII letters starting a word
    return len(word) == 3 and word.isascii() and word.isalpha() and (at == 3 or not text[at - 4].isalpha())


def _may_precede_suffix(text: str, end: int) -> bool:
    """Tell cheaply whether a marker may start at `end`, to spare most `_SUFFIX` matches."""
    after = text[end : end + 1]
    return bool(after) and (after in _GAP_CHARS or after in _SYMBOLS or (after.isascii() and after.isalpha()))


def _read_prefix(prefix: re.Match) -> tuple[int | None, str | None]:
    """Return where the money marker before a number starts (None: no marker) and its currency."""
    if prefix["code"] is not None:
        code = _code(prefix["code"])
        if code is not None:
            return prefix.start("code"), code
        if prefix["code_symbol"] is not None:  # "por $349": the word is not a code, the "$" counts
            return prefix.start("code_symbol"), _SYMBOL_CURRENCIES.get(prefix["code_symbol"])
        return None, None
    if prefix["symbol"] is not None:
        symbol, letters = prefix["symbol"], prefix["letters"]
        if letters is not None and symbol in _DOLLARS:
            currency = _DOLLAR_PREFIXES.get(letters.upper()) or _code(letters)
            if currency is not None:
                return prefix.start("letters"), currency
        return prefix.start("symbol"), _SYMBOL_CURRENCIES.get(symbol)
    if prefix["uds"] is not None:
        return prefix.start("uds"), "USD"
    return prefix.start("soles"), "PEN"


def _read_suffix(suffix: re.Match) -> tuple[int | None, str | None]:
    """Return where the money marker after a number ends (None: no marker) and its currency."""
    if suffix["symbol"] is not None:
        return suffix.end("symbol"), _SYMBOL_CURRENCIES.get(suffix["symbol"])
    if suffix["word"] is not None:
        currency = _WORD_CURRENCIES.get(fold(suffix["word"]), "MXN")
        adjective = suffix["adjective"]
        if adjective is not None:
            named = _ADJECTIVE_CURRENCIES.get(fold(adjective)) or _code(adjective)
            if named is not None:
                return suffix.end("adjective"), named
        return suffix.end("word"), currency
    if suffix["mn"] is not None:  # "moneda nacional", as Mexican prices say
        return suffix.end("mn"), "MXN"
    if suffix["code"] is not None:
        code = _code(suffix["code"])
        if code is not None:
            return suffix.end("code"), code
    return None, None


def _code(letters: str) -> str | None:
    code = letters.upper()
    if code not in _CODES or (code in _CAPITALS_ONLY and letters != code):
        return None
    return code


def _join_currencies(currencies: list[str]) -> str | None:
    """Name the amount's currency; two different ones ("US$349 MXN") join into a code no catalogue has."""
    unique = list(dict.fromkeys(currencies))
    return "/".join(unique) if unique else None


def _read_amount(raw: str) -> Decimal:
    """Read "4,590", "4.590,00", "4 590" or "1.490" (1490) as a Decimal.

    A separator before exactly three digits groups thousands; a last "." or "," before one or two
    digits starts the decimals. Anything else ("4.5900", "1.234.56") is ambiguous, so unreadable.
    """
    if len(raw) > _MAX_NUMBER_CHARS:
        return _UNREADABLE
    parts = _SEPARATOR.split(raw)
    groups, separators = parts[0::2], parts[1::2]
    decimals = ""
    if separators and separators[-1] in ".," and len(groups[-1]) in (1, 2):
        decimals = groups.pop()
        decimal_separator = separators.pop()
    else:
        decimal_separator = ""
    if separators:
        kinds = {" " if separator in _GROUP_SPACES else separator for separator in separators}
        if (
            len(kinds) != 1
            or decimal_separator in kinds
            or not 1 <= len(groups[0]) <= 3
            or groups[0].startswith("0")
            or any(len(group) != 3 for group in groups[1:])
        ):
            return _UNREADABLE
    try:
        return Decimal("".join(groups) + ("." + decimals if decimals else ""))
    except (InvalidOperation, ValueError):
        return _UNREADABLE


def _index_prices(prices: Collection[tuple[Decimal, str]]) -> tuple[set[tuple[Decimal, str]], set[Decimal]]:
    """Return the (amount, currency) pairs and the bare amounts; unusable entries are skipped."""
    exact: set[tuple[Decimal, str]] = set()
    amounts: set[Decimal] = set()
    for entry in prices or ():
        try:
            price, currency = entry
            amount = price if isinstance(price, Decimal) else Decimal(str(price))
        except (InvalidOperation, ValueError, TypeError):
            continue
        if amount.is_nan():
            continue
        # Decimal hashes by value, so 4590 and 4590.00 meet in the sets without normalising.
        amounts.add(amount)
        exact.add((amount, str(currency).strip().upper()))
    return exact, amounts


def _course_mentions(text: str, courses: Mapping[str, object]) -> list[tuple[int, int, str]]:
    """Return where course names occur in `text` as (start, end, name), ignoring case, accents and spacing."""
    pattern, names = _names_pattern(tuple(courses))
    if pattern is None:
        return []
    return [(match.start(), match.end(), names[int(str(match.lastgroup)[1:])]) for match in pattern.finditer(text)]


@functools.lru_cache(maxsize=8)
def _names_pattern(names: tuple[str, ...]) -> tuple[re.Pattern[str] | None, tuple[str, ...]]:
    """One regex for every course name (longest first, so a name inside another loses), built once per catalogue."""
    usable = tuple(
        sorted((name for name in names if len(fold(name).strip()) >= _MIN_COURSE_NAME), key=len, reverse=True)
    )
    if not usable:
        return None, ()
    alternatives = [f"(?P<c{index}>{_loose(name)})" for index, name in enumerate(usable)]
    return re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)", re.IGNORECASE), usable


def _loose(name: str) -> str:
    """A name as a pattern that also matches it without (or with other) accents and with any spacing."""
    parts: list[str] = []
    for char in fold(name.strip()):
        if char.isspace():
            if not parts or parts[-1] != r"\s+":
                parts.append(r"\s+")
        else:
            parts.append(_ACCENT_CLASSES.get(char) or re.escape(char))
    return "".join(parts)


def _courses_of(text: str, money: Money, mentions: list[tuple[int, int, str]]) -> tuple[str, ...]:
    """The courses an amount may speak of; empty when no course is named near it.

    The nearest name before it in its paragraph ("**Curso X**\n- Precio: $…" puts the name a
    line above), plus every name earlier in its own sentence ("el primero cuesta $2,990 y el
    segundo $4,590" compares two); with none before it, the first name after it on its line.
    """
    if not mentions:
        return ()
    block_start = text.rfind("\n\n", 0, money.start) + 1
    before = [(start, name) for start, end, name in mentions if block_start <= start and end <= money.start]
    if before:
        sentence_start = max(text.rfind(mark, 0, money.start) for mark in _SENTENCE_MARKS) + 1
        in_sentence = [name for start, name in before if start >= sentence_start]
        return tuple(dict.fromkeys([before[-1][1], *in_sentence]))
    line_end = text.find("\n", money.end)
    line_end = len(text) if line_end == -1 else line_end
    after = [name for start, end, name in mentions if money.end <= start and end <= line_end]
    return (after[0],) if after else ()


def _is_price(money: Money, exact: set[tuple[Decimal, str]], amounts: set[Decimal]) -> bool:
    if money.amount.is_nan():
        return False
    if money.currency is None:
        return money.amount in amounts
    return (money.amount, money.currency) in exact


def _locate(text: str, money: Money) -> list[int]:
    """Return where `money` starts in `text`: its span if it still fits, else every place its text occurs."""
    if 0 <= money.start < money.end <= len(text) and text[money.start : money.end] == money.text:
        return [money.start]
    if not money.text:
        return []
    starts, at = [], text.find(money.text)
    while at != -1:
        starts.append(at)
        at = text.find(money.text, at + 1)
    return starts


def _sentence_bounds(line: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Split one line into sentences, never inside an amount ("$4,590 M.N."); `spans` are sorted."""
    span_starts = [start for start, _ in spans]
    cuts = [0]
    for end in _SENTENCE_END.finditer(line):
        cut = end.end()
        if cut >= len(line) or not line[cut].isspace():
            continue  # "4.590", "Dr.García", or the end of the line
        inside = bisect_left(span_starts, cut) - 1
        if inside >= 0 and spans[inside][1] > cut:
            continue  # within an amount
        following = line[cut:].lstrip()[:1]
        if following.islower() and "!" not in end.group() and "?" not in end.group():
            continue
        cuts.append(cut)
    cuts.append(len(line))
    return list(pairwise(cuts))


def _any_in(positions: list[int], start: int, end: int) -> bool:
    """Tell whether the sorted `positions` hold one in [start, end)."""
    at = bisect_left(positions, start)
    return at < len(positions) and positions[at] < end


def _has_content(text: str) -> bool:
    return any(ch.isalnum() for ch in text)
