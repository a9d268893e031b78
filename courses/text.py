"""Accent- and case-insensitive matching that runs inside the database on SQLite and PostgreSQL.

`Fold(expr)` lowers a column and strips Spanish/Portuguese accents: PostgreSQL does it with
the built-in `translate()` (no `unaccent` extension, which needs a superuser to install);
SQLite calls a Python function registered on every new connection.
"""

import unicodedata

from django.db.backends.signals import connection_created
from django.db.models import CharField, Func
from django.dispatch import receiver

# Upper-case letters are listed too: under a "C" collation PostgreSQL's lower() changes ASCII only.
_ACCENTED = "áàäâãåéèëêíìïîóòöôõúùüûñçÁÀÄÂÃÅÉÈËÊÍÌÏÎÓÒÖÔÕÚÙÜÛÑÇ"
_PLAIN = "aaaaaaeeeeiiiiooooouuuuncaaaaaaeeeeiiiiooooouuuunc"
SQLITE_FOLD_FUNCTION = "brenda_fold"


def fold(text: str) -> str:
    """Lower-case `text` and strip diacritics, as `Fold` does in the database.

    Compatibility forms are mapped before lower-casing: STOP in mathematical bold or full-width
    capitals becomes "STOP", then "stop" (lowered first, a mathematical capital has no lower case
    and stayed upper). Invisible format characters (zero-width joiner, soft hyphen) go too, so
    "S\u200dTOP" is one word.
    """
    decomposed = unicodedata.normalize("NFKD", text).lower()
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch) and unicodedata.category(ch) != "Cf")


class Fold(Func):
    """Lower-case and unaccent a text expression in SQL."""

    output_field = CharField()
    arity = 1

    def as_postgresql(self, compiler, connection, **extra_context):
        return self.as_sql(
            compiler,
            connection,
            template=f"translate(lower(%(expressions)s), '{_ACCENTED}', '{_PLAIN}')",
            **extra_context,
        )

    def as_sqlite(self, compiler, connection, **extra_context):
        return self.as_sql(compiler, connection, function=SQLITE_FOLD_FUNCTION, **extra_context)

    def as_sql(self, compiler, connection, function=None, template=None, **extra_context):  # type: ignore[override]
        if function is None and template is None:
            template = "lower(%(expressions)s)"  # other databases: case only
        return super().as_sql(compiler, connection, function=function, template=template, **extra_context)


def _sqlite_fold(value: str | None) -> str | None:
    return None if value is None else fold(value)


@receiver(connection_created)
def register_sqlite_fold(sender, connection, **kwargs) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function(SQLITE_FOLD_FUNCTION, 1, _sqlite_fold, deterministic=True)
