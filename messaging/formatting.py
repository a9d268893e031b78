"""Turn the model's Markdown into WhatsApp formatting, and split long replies into sendable parts.

WhatsApp knows `*bold*`, `_italic_`, `~strike~` and ``` fences, not Markdown's `**`, headings
or links; Twilio refuses bodies over 1,600 characters (error 21617).
"""

import re
from collections.abc import Callable

WHATSAPP_LIMIT = 1600

# Private-use characters stand in for protected spans and for bold markers while converting,
# so later patterns cannot touch them (a `_` inside a URL, the `*` of a bold already done).
_TOKEN = "\ue000{}\ue001"
_TOKEN_RE = re.compile("\ue000(\\d+)\ue001")
_BOLD = "\ue002"
_RESERVED_RE = re.compile("[\ue000-\ue002]")  # removed from the input: only ours may appear

_FENCE_RE = re.compile(r"```.*?```", re.DOTALL)
_INLINE_CODE_RE = re.compile(r"`[^`\n]+`")
_LINK_RE = re.compile(r"!?\[([^\]\n]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"\n]*\")?\s*\)")
_AUTOLINK_RE = re.compile(r"<((?:https?://|mailto:)[^>\s]+)>")
# A URL does not end with punctuation, nor with the `*`, `_` or `~` of formatting around it.
_URL_RE = re.compile(r"(?:https?://|www\.)[^\s<>()\[\]]*[^\s<>()\[\].,;:!?\"'*_~]")
_HEADING_RE = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
_RULE_RE = re.compile(r"^[ \t]*([-*_])(?:[ \t]*\1){2,}[ \t]*$", re.MULTILINE)
_BULLET_RE = re.compile(r"^([ \t]*)[*+-][ \t]+", re.MULTILINE)
_BOLD_ITALIC_RE = re.compile(r"\*\*\*(?=\S)([^\n]+?)(?<=\S)\*\*\*")
_BOLD_STAR_RE = re.compile(r"\*\*(?=\S)([^\n]+?)(?<=\S)\*\*")
_BOLD_UNDERSCORE_RE = re.compile(r"(?<!\w)__(?=\S)([^\n]+?)(?<=\S)__(?!\w)")
_ITALIC_STAR_RE = re.compile(r"(?<![\w*])\*(?=[^\s*])([^\n*]+?)(?<=[^\s*])\*(?![\w*])")
_STRIKE_RE = re.compile(r"~~(?=\S)([^\n]+?)(?<=\S)~~")
_TRAILING_SPACE_RE = re.compile(r"[ \t]+$", re.MULTILINE)
_BLANK_LINES_RE = re.compile(r"\n{3,}")


def to_whatsapp(markdown: str) -> str:
    """Convert Markdown as a chat model writes it into WhatsApp's formatting.

    Code and URLs are set aside first, so the `_` and `*` they contain survive; bold is
    converted before italics because both use `*`.
    """
    protected: list[str] = []

    def protect(text: str) -> str:
        protected.append(text)
        return _TOKEN.format(len(protected) - 1)

    text = _RESERVED_RE.sub("", markdown.replace("\r\n", "\n"))
    text = _FENCE_RE.sub(lambda m: protect(m.group(0)), text)
    text = _INLINE_CODE_RE.sub(lambda m: protect(m.group(0)), text)
    text = _LINK_RE.sub(lambda m: _render_link(m.group(1), m.group(2), protect), text)
    text = _AUTOLINK_RE.sub(lambda m: protect(m.group(1)), text)
    text = _URL_RE.sub(lambda m: protect(m.group(0)), text)
    text = _HEADING_RE.sub(_render_heading, text)
    text = _RULE_RE.sub("", text)
    text = _BULLET_RE.sub(r"\1• ", text)
    text = _BOLD_ITALIC_RE.sub(lambda m: f"{_BOLD}_{m.group(1)}_{_BOLD}", text)
    text = _BOLD_STAR_RE.sub(lambda m: f"{_BOLD}{m.group(1)}{_BOLD}", text)
    text = _BOLD_UNDERSCORE_RE.sub(lambda m: f"{_BOLD}{m.group(1)}{_BOLD}", text)
    text = _ITALIC_STAR_RE.sub(r"_\1_", text)
    text = _STRIKE_RE.sub(r"~\1~", text)
    text = text.replace(_BOLD, "*")
    while _TOKEN_RE.search(text):  # a protected span can hold another (code inside a link)
        text = _TOKEN_RE.sub(lambda m: protected[int(m.group(1))], text)
    text = _TRAILING_SPACE_RE.sub("", text)
    return _BLANK_LINES_RE.sub("\n\n", text).strip()


def _render_link(label: str, url: str, protect: Callable[[str], str]) -> str:
    label = label.strip()
    if not label or label == url or label.rstrip("/") == url.rstrip("/"):
        return protect(url)
    return f"{label} ({protect(url)})"


def _render_heading(match: re.Match[str]) -> str:
    title = match.group(1).strip()
    # "# **Title**" must not end up as "***Title***".
    title = re.sub(r"(\*\*|__)(.+?)\1", r"\2", title).strip("*_ ")
    return f"{_BOLD}{title}{_BOLD}" if title else ""


# --- Splitting ---------------------------------------------------------------

# Boundaries from coarsest to finest; each pattern matches the separator that ends a piece.
_PARAGRAPH_END = re.compile(r"\n[ \t]*\n\s*")
_LINE_END = re.compile(r"\n\s*")
_SENTENCE_END = re.compile(r"(?:[.!?]+|…)[\"'”’»)\]]*\s+|…")
_WORD_END = re.compile(r"\s+")
_BOUNDARIES = (_PARAGRAPH_END, _LINE_END, _SENTENCE_END, _WORD_END)


def split_message(text: str, limit: int = WHATSAPP_LIMIT) -> list[str]:
    """Split `text` into parts of at most `limit` characters, cutting at the coarsest boundary that fits.

    Paragraphs, then lines, then sentences, then words; only a single word longer than `limit`
    is cut mid-word. Parts are stripped, never empty, and in order. Length is counted in UTF-16
    code units (an emoji counts 2), which is never less than the character count, so a part fits
    whichever way the carrier counts.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    return _split(text, limit, level=0)


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _split(text: str, limit: int, level: int) -> list[str]:
    stripped = text.strip()
    if _units(stripped) <= limit:
        return [stripped] if stripped else []
    if level == len(_BOUNDARIES):
        return _hard_cut(stripped, limit)
    pieces = _pieces(stripped, _BOUNDARIES[level])
    if len(pieces) == 1:
        return _split(stripped, limit, level + 1)
    parts: list[str] = []
    current, current_units = "", 0
    for piece in pieces:
        if current and current_units + _units(piece.rstrip()) <= limit:
            current += piece
            current_units += _units(piece)
            continue
        if current.strip():
            parts.append(current.strip())
        if _units(piece.strip()) <= limit:
            current = piece.lstrip()
            current_units = _units(current)
        else:
            parts.extend(_split(piece, limit, level + 1))
            current, current_units = "", 0
    if current.strip():
        parts.append(current.strip())
    return parts


def _pieces(text: str, boundary: re.Pattern[str]) -> list[str]:
    """Cut `text` after every separator, keeping each separator at the end of its piece."""
    pieces, start = [], 0
    for match in boundary.finditer(text):
        if match.end() > start:
            pieces.append(text[start : match.end()])
            start = match.end()
    if start < len(text):
        pieces.append(text[start:])
    return pieces


def _hard_cut(word: str, limit: int) -> list[str]:
    parts, current, current_units = [], "", 0
    for char in word:
        width = _units(char)
        if current and current_units + width > limit:
            parts.append(current)
            current, current_units = "", 0
        current += char
        current_units += width
    if current:
        parts.append(current)
    return parts
