"""Reading the environment strictly: a typo in a number or a boolean stops the start with one line naming it."""

import math
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured


class StrictEnv(environ.Env):
    """django-environ's Env, strict about numbers and booleans, so a typo stops the start with one line.

    Plain Env raises a bare ValueError that names neither variable nor value, reads any unknown word as
    false (`TWILIO_VALIDATE_SIGNATURE=enabled` would turn signature checks off) and strips letters from a
    float (`1e3` becomes 13). Here an empty value means the default, as the `NAME=` lines of `.env.example`
    intend. Only numbers and booleans are echoed in the message: strings and URLs may hold secrets.
    """

    TRUE_WORDS = frozenset({"true", "1", "yes", "on"})
    FALSE_WORDS = frozenset({"false", "0", "no", "off"})
    KINDS = {bool: "true or false (also 1/0, yes/no, on/off)", int: "a whole number", float: "a number"}

    def get_value(
        self, var: str, cast: Any = None, default: Any = environ.Env.NOTSET, parse_default: bool = False
    ) -> Any:
        """Read `var` as django-environ does, but turn a value that does not parse into ImproperlyConfigured."""
        raw = self.ENVIRON.get(f"{self.prefix}{var}")
        if cast in self.KINDS and raw is not None and not raw.strip() and default is not self.NOTSET:
            return default
        try:
            return super().get_value(var, cast=cast, default=default, parse_default=parse_default)
        except ValueError:
            if cast in self.KINDS:
                raise ImproperlyConfigured(f"{var} must be {self.KINDS[cast]}; got {raw!r}.") from None
            raise ImproperlyConfigured(f"{var} cannot be read (its value is not shown: it may be secret).") from None

    @classmethod
    def parse_value(cls, value: Any, cast: Any) -> Any:
        """Parse booleans from known words only, and numbers in Python's own syntax (finite)."""
        if isinstance(value, str) and cast is bool:
            word = value.strip().lower()
            if word in cls.TRUE_WORDS | cls.FALSE_WORDS:
                return word in cls.TRUE_WORDS
            raise ValueError(value)
        if isinstance(value, str) and cast is float:
            number = float(value.strip())
            if not math.isfinite(number):
                raise ValueError(value)
            return number
        return super().parse_value(value, cast)
