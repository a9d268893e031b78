"""Bench 5: how often the rule-based responder understands real customer messages.

Reads the labelled evaluation sets (`tests/data/fallback_eval*.jsonl`: a message, the intent it
expects, the course or courses it is about, its language, and the messages before it when it
is a follow-up) and answers every case over the demo catalogue, read straight from
`courses/fixtures/demo_courses.json`: no database, so no PostgreSQL. A follow-up's earlier
messages are answered first, and their replies become the memory, as in a real conversation.

A case is right when the intent matches, the first course is the first expected one and every
expected course is among the first four (a list shows four), the language matches, and the
reply fits one WhatsApp message. Prints accuracy per intent and the confusions, for each set on
its own: `fallback_eval.jsonl` was written while the rules were tuned; `fallback_eval_blind.jsonl`
was written before its author read the rules (it scored 82.8 % then), so it tells how the rules
cope with messages nobody tuned them for. Each must reach the target.
"""

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .common import print_table, say

ROOT = Path(__file__).resolve().parent.parent
EVAL_SET = ROOT / "tests" / "data" / "fallback_eval.jsonl"
BLIND_SET = ROOT / "tests" / "data" / "fallback_eval_blind.jsonl"
EVAL_SETS = (EVAL_SET, BLIND_SET)
FIXTURE = ROOT / "courses" / "fixtures" / "demo_courses.json"
ACCURACY_TARGET = 0.9
WHATSAPP_LIMIT = 1600


@dataclass(frozen=True)
class Outcome:
    case: dict
    intent: str
    courses: tuple[str, ...]
    lang: str
    reply: str

    @property
    def intent_ok(self) -> bool:
        return self.intent == self.case["intent"]

    @property
    def courses_ok(self) -> bool:
        expected = self.case.get("courses") or []
        if not expected:
            return True
        return bool(self.courses) and self.courses[0] == expected[0] and set(expected) <= set(self.courses[:4])

    @property
    def right(self) -> bool:
        return (
            self.intent_ok
            and self.courses_ok
            and self.lang == self.case.get("lang", "es")
            and 0 < len(self.reply) <= WHATSAPP_LIMIT
        )


def load_cases(path: Path = EVAL_SET) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def demo_catalogue_details(path: Path = FIXTURE) -> list[dict]:
    """The demo catalogue's active courses as `courses.selectors.get_catalogue` returns them, cheapest first."""
    rows = json.loads(path.read_text(encoding="utf-8"))
    courses = {r["pk"]: r["fields"] for r in rows if r["model"] == "courses.course" and r["fields"].get("active", True)}
    sessions: dict[str, list] = {pk: [] for pk in courses}
    bonuses: dict[str, list] = {pk: [] for pk in courses}
    for row in rows:
        fields = row["fields"]
        if row["model"] == "courses.coursesession" and fields["course"] in courses:
            sessions[fields["course"]].append(fields)
        elif row["model"] == "courses.coursebonus" and fields["course"] in courses and fields.get("active", True):
            bonuses[fields["course"]].append(fields)
    details = [
        {
            "id_course": pk,
            "name": f["name"],
            "level": f["level"],
            "modality": f["modality"],
            "price": f"{float(f['price']):.2f}",
            "currency": f.get("currency", "MXN"),
            "short_description": f["short_description"],
            "long_description": f.get("long_description", ""),
            "duration_hours": f["duration_hours"],
            "sessions_count": f["sessions_count"],
            "sessions": [
                {
                    "number": s["number"],
                    "title": s["title"],
                    "objective": s.get("objective", ""),
                    "duration_minutes": s["duration_minutes"],
                }
                for s in sorted(sessions[pk], key=lambda s: s["number"])
            ],
            "bonuses": [
                {"name": b["name"], "description": b.get("description", ""), "value": b.get("value")}
                for b in sorted(bonuses[pk], key=lambda b: b["name"])
            ],
        }
        for pk, f in courses.items()
    ]
    return sorted(details, key=lambda d: (float(d["price"]), d["name"]))


def evaluate(cases: Sequence[dict], catalogue=None) -> list[Outcome]:
    """Answer every case (its earlier messages first, as a conversation) and record what the responder understood."""
    from threads.fallback import answer
    from threads.fallback.catalogue import Catalogue, load_catalogue

    if catalogue is None:
        catalogue = load_catalogue()
    elif not isinstance(catalogue, Catalogue):
        catalogue = Catalogue(catalogue)
    outcomes = []
    for case in cases:
        history: list[tuple[str, str]] = []
        for text in case.get("context", []):
            earlier = answer([text], history=history, catalogue=catalogue)
            history += [("user", text), ("assistant", earlier.text)]
        result = answer([case["text"]], history=history, catalogue=catalogue)
        intent = result.intent
        names = [c.name for c in ((intent.course,) if intent.course else ())]
        names += [c.name for c in intent.courses if c.name not in names]
        outcomes.append(
            Outcome(case=case, intent=intent.kind, courses=tuple(names), lang=intent.lang, reply=result.text)
        )
    return outcomes


def accuracy(outcomes: Sequence[Outcome]) -> float:
    return sum(o.right for o in outcomes) / len(outcomes) if outcomes else 0.0


def report(outcomes: Sequence[Outcome], path: Path = EVAL_SET) -> dict:
    """Print accuracy per intent and the confusions of one set (read from `path`); return the figures."""
    by_intent: dict[str, list[Outcome]] = {}
    for outcome in outcomes:
        by_intent.setdefault(outcome.case["intent"], []).append(outcome)
    rows = [
        (intent, len(group), sum(o.right for o in group), sum(o.right for o in group) / len(group))
        for intent, group in sorted(by_intent.items(), key=lambda kv: (-len(kv[1]), kv[0]))
    ]
    total = accuracy(outcomes)
    print_table(
        "Table 5: rule-based responder, accuracy per expected intent",
        ["intent", "cases", "right", "accuracy"],
        [
            (intent, n, right, f"{share:.1%}")
            for intent, n, right, share in [*rows, ("all", len(outcomes), sum(o.right for o in outcomes), total)]
        ],
        [f"target: >= {ACCURACY_TARGET:.0%} of {len(outcomes)} cases ({path.relative_to(ROOT)})"],
        align="lrrr",
    )
    confusions = Counter((o.case["intent"], o.intent) for o in outcomes if not o.intent_ok)
    print_table(
        "Table 5b: confusions (expected intent → detected intent)",
        ["expected", "detected", "cases"],
        [(expected, got, n) for (expected, got), n in confusions.most_common()] or [("-", "-", 0)],
        align="llr",
    )
    wrong = [o for o in outcomes if not o.right]
    if wrong:
        print_table(
            "Table 5c: every case not right",
            ["message", "expected", "detected", "courses (first 2)"],
            [
                (
                    o.case["text"][:40],
                    f"{o.case['intent']} {o.case.get('lang', 'es')}",
                    f"{o.intent} {o.lang}",
                    ", ".join(name[:18] for name in o.courses[:2]) or "-",
                )
                for o in wrong
            ],
            align="llll",
        )
    return {
        "set": path.name,
        "cases": len(outcomes),
        "accuracy": round(total, 4),
        "target": ACCURACY_TARGET,
        "by_intent": {intent: {"cases": n, "right": right} for intent, n, right, _ in rows},
        "confusions": [{"expected": e, "detected": d, "cases": n} for (e, d), n in confusions.most_common()],
        "longest_reply_chars": max((len(o.reply) for o in outcomes), default=0),
    }


def run(quick: bool = False) -> dict:
    """Evaluate every set over the demo catalogue (from the fixture file; no database), each on its own."""
    catalogue = demo_catalogue_details()
    results = {}
    for path in EVAL_SETS:
        cases = load_cases(path)
        say(f"fallback: {len(cases)} labelled messages ({path.name}) over the demo catalogue")
        results[path.stem] = report(evaluate(cases, catalogue), path)
    return results
