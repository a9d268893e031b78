"""The catalogue as the rule-based responder reads it: one snapshot per reply, ranked in Python.

The whole active catalogue is small (tens of courses), so it is read once (three queries) and
every word of a course counts: its name weighs most, then its short description, then its long
description, sessions and bonuses. Matching folds accents and compares word stems, so
"automatizar" finds "Automatización" and "prompts" finds "Prompt engineering".
"""

import difflib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

from courses.selectors import CourseDetail, get_catalogue, retired_course_names
from courses.text import fold

NAME, SHORT, REST = 3, 2, 1
_TOKEN = re.compile(r"[a-z0-9][a-z0-9+#]*")
_STEM_CHARS = 6
LEVELS = ("principiante", "intermedio", "avanzado")


def stem(word: str) -> str:
    """Reduce a folded word to a stem that its plural and close derivations share."""
    if len(word) > 4 and word.endswith("es") and word[-3] in "nlrdz":
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s"):
        word = word[:-1]
    return word[:_STEM_CHARS]


def words_of(text: str) -> list[str]:
    return _TOKEN.findall(fold(text))


@dataclass(eq=False)
class Course:
    """An active course with its detail and the stems its text holds, each with its weight."""

    detail: CourseDetail
    index: dict[str, int] = field(default_factory=dict)
    folded_name: str = ""

    @property
    def id(self) -> str:
        return self.detail["id_course"]

    @property
    def name(self) -> str:
        return self.detail["name"]

    @property
    def level(self) -> str:
        return self.detail["level"]

    @property
    def modality(self) -> str:
        return self.detail["modality"]

    @property
    def price(self) -> Decimal:
        return Decimal(self.detail["price"])

    @property
    def currency(self) -> str:
        return self.detail["currency"].upper()

    @property
    def bonus_text(self) -> str:
        return fold(" ".join(f"{b['name']} {b['description']}" for b in self.detail["bonuses"]))


_PROPER = re.compile(r"(?<=\s)[A-Z][\w·.-]*")


def _names_in(text: str) -> str:
    """The tools and proper names a sentence mentions ("… con Midjourney y DALL·E"): a session's
    objective is everyday prose ("preparar", "recibir"), so only its capitalised words count."""
    return " ".join(_PROPER.findall(text))


def _index(detail: CourseDetail) -> dict[str, int]:
    fields = (
        (NAME, detail["name"]),
        (SHORT, detail["short_description"]),
        (REST, detail["long_description"]),
        (REST, " ".join(s["title"] for s in detail["sessions"])),
        (REST, " ".join(_names_in(s.get("objective", "")) for s in detail["sessions"])),
        (REST, " ".join(f"{b['name']} {b['description']}" for b in detail["bonuses"])),
    )
    index: dict[str, int] = {}
    for weight, text in fields:
        for word in words_of(text):
            if len(word) > 2 or word in {"ml", "ia", "ai", "bi"}:
                key = stem(word)
                index[key] = max(index.get(key, 0), weight)
    return index


class Catalogue:
    """The active courses, cheapest first, and the vocabulary their texts use (for typo correction)."""

    def __init__(self, details: Iterable[CourseDetail], retired: Callable[[], Sequence[str]] = tuple) -> None:
        """`retired` reads the names of the courses no longer offered, when a reply first needs them."""
        self._read_retired = retired
        self.courses = [Course(detail=d, index=_index(d), folded_name=fold(d["name"])) for d in details]
        counts: dict[str, int] = {}
        for course in self.courses:
            counts[course.currency] = counts.get(course.currency, 0) + 1
        # The catalogue's main currency comes first wherever prices are grouped.
        self.currencies = sorted(counts, key=lambda c: (-counts[c], c))
        # Typos are corrected towards the words of names and short descriptions only: the long texts
        # hold everyday words ("posible", "limpia") that a misspelling should not turn into a topic.
        self._words = {w for c in self.courses for w in words_of(f"{c.detail['name']} {c.detail['short_description']}")}
        self.vocabulary = sorted(w for w in self._words if len(w) > 4)
        self._by_id = {c.id: c for c in self.courses}

    def get(self, course_id: str) -> Course | None:
        return self._by_id.get(course_id)

    @cached_property
    def _retired(self) -> list[tuple[str, frozenset[str]]]:
        """Courses no longer offered, read when first asked about (most replies never need them)."""
        return [(name, frozenset(words_of(name))) for name in self._read_retired()]

    def retired_named(self, words: Iterable[str]) -> str | None:
        """The retired course these words name, by a word of its name no active course uses ("dialogflow")."""
        distinctive = {w for w in words if len(w) > 3 and w not in self._words}
        if not distinctive:
            return None
        return next((name for name, name_words in self._retired if distinctive & name_words), None)

    @property
    def main_currency(self) -> str:
        return self.currencies[0] if self.currencies else "MXN"

    def currency_rank(self, course: Course) -> int:
        return self.currencies.index(course.currency) if course.currency in self.currencies else len(self.currencies)

    def by_price(self, courses: Sequence[Course] | None = None) -> list[Course]:
        """Courses grouped by currency (the main one first), cheapest first within each."""
        return sorted(
            self.courses if courses is None else courses, key=lambda c: (self.currency_rank(c), c.price, c.name)
        )

    def interleaved_by_price(self, courses: Sequence[Course] | None = None) -> list[Course]:
        """Cheapest of each currency first, then the second of each… so a page of 4 shows every currency."""
        groups = [[c for c in self.by_price(courses) if c.currency == currency] for currency in self.currencies]
        out: list[Course] = []
        for rank in range(max((len(g) for g in groups), default=0)):
            out.extend(g[rank] for g in groups if rank < len(g))
        return out

    def by_level(self, courses: Sequence[Course] | None = None) -> list[Course]:
        return sorted(
            self.courses if courses is None else courses,
            key=lambda c: (LEVELS.index(c.level) if c.level in LEVELS else 9, self.currency_rank(c), c.price, c.name),
        )

    def correct(self, word: str) -> str | None:
        """Return the catalogue word a misspelt one most likely meant ("maching" → "machine"), or None."""
        if len(word) < 5:
            return None
        found = difflib.get_close_matches(word, self.vocabulary, n=1, cutoff=0.8)
        # Typos keep the first letters; "empieza" is not "limpia".
        return found[0] if found and found[0][:2] == word[:2] else None

    def split(self, word: str) -> tuple[str, str] | None:
        """Two catalogue words written as one ("deeplearning" → "deep", "learning"), or None."""
        if len(word) < 7:
            return None
        for cut in range(3, len(word) - 2):
            head, tail = word[:cut], word[cut:]
            # The set look-ups first: `knows` reads every course's index.
            if head in self._words and tail in self._words and self.knows(head) and self.knows(tail):
                return head, tail
        return None

    def knows(self, word: str) -> bool:
        key = stem(word)
        return any(key in c.index for c in self.courses)

    def rank(self, topics: Sequence[str], *, text: str = "", level: str | None = None) -> list[tuple[Course, int]]:
        """Score every course on the topic words; return those that match any, best first.

        A topic match outranks a level match: the level only breaks ties. A course whose
        whole name appears in the message (`text`, folded) scores above any word count.
        """
        scored = []
        covered: dict[str, int] = {}
        keys = [stem(word) for word in topics]
        text_words = f" {' '.join(words_of(text))} " if text else ""
        for course in self.courses:
            score = sum(course.index.get(key, 0) for key in keys)
            covered[course.id] = sum(1 for key in keys if key in course.index)
            base_name = course.folded_name.split(":")[0].split("(")[0].strip()
            if text and len(base_name) > 3 and f" {base_name} " in text_words:
                score += 10
            if score:
                scored.append((course, score))
        # More of the words asked about outranks one heavy word: "privacidad de datos" is Ética (both
        # words), not "Análisis de datos" (one word, in its name). A whole name still wins (+10).
        scored.sort(
            key=lambda cs: (
                -(cs[1] >= 10),
                -covered[cs[0].id],
                -cs[1],
                cs[0].level != level,
                self.currency_rank(cs[0]),
                cs[0].price,
                cs[0].name,
            )
        )
        return scored

    def mentioned_in(self, text: str) -> list[Course]:
        """Courses named in a text (e.g. a reply the user saw), in the order they appear.

        Bold names (`*Name*`, WhatsApp's bold) count first: a reply lists its courses in bold and
        mentions related ones in plain text. Without any bold name, plain mentions count.
        """
        bold = " ".join(re.findall(r"\*([^*\n]+)\*", text))
        for haystack in (fold(bold), fold(text)):
            found = []
            for course in self.courses:
                needle = course.folded_name[:40].rstrip()
                position = haystack.find(needle)
                if position >= 0:
                    found.append((position, course))
            if found:
                return [course for _, course in sorted(found, key=lambda pc: pc[0])]
        return []


def load_catalogue() -> Catalogue:
    """Read the active catalogue once for this reply (and the retired courses' names if it comes to them)."""
    return Catalogue(get_catalogue(), retired=retired_course_names)
