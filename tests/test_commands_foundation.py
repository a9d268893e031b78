"""The project's foundation as an operator meets it: checks pass, migrations match the models, demo data loads."""

import pytest
from django.core.management import call_command

from courses.models import Course


@pytest.mark.django_db  # makemigrations checks the applied history against the database
def test_models_have_no_missing_migrations():
    # SystemExit(1) from `--check` means a model changed without its migration.
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


def test_system_checks_pass():
    call_command("check", fail_level="ERROR", verbosity=0)


@pytest.mark.django_db
def test_loaddata_demo_courses_installs_the_catalogue(capsys):
    call_command("loaddata", "demo_courses")

    assert "Installed" in capsys.readouterr().out
    assert Course.objects.filter(active=True).count() >= 8
