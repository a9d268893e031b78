"""The model's lifecycle and money settings: the doctor asks OpenAI, the system checks never call the network."""

import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.checks import run_checks
from django.core.management import call_command
from django.utils import timezone

from threads import checks, doctor

pytestmark = pytest.mark.django_db


def thread_check_ids() -> list[str]:
    return [message.id for message in run_checks() if message.id.startswith("threads.")]


class TestDoctor:
    def test_a_model_with_no_shutdown_date_passes(self, fake_openai, settings):
        settings.OPENAI_MODEL = "gpt-6-luna"

        result = doctor.check_model_lifecycle()

        assert (result.status, result.detail) == (doctor.OK, "gpt-6-luna: no shutdown date announced")
        assert [call.path for call in fake_openai.calls("/models")] == ["/v1/models/gpt-6-luna"]

    def test_a_shutdown_within_60_days_warns_and_names_the_date(self, fake_openai, settings):
        settings.OPENAI_MODEL = "gpt-5-mini"
        soon = timezone.localdate() + timedelta(days=8)
        fake_openai.set_model("gpt-5-mini", shutdown_date=soon.isoformat())

        result = doctor.check_model_lifecycle()

        assert result.status == doctor.WARN
        assert f"shuts down on {soon:%Y-%m-%d} (8 days)" in result.detail and "replay" in result.detail

    def test_a_passed_shutdown_fails(self, fake_openai, settings):
        settings.OPENAI_MODEL = "gpt-5-mini"
        fake_openai.set_model("gpt-5-mini", shutdown_date="2026-12-01")

        result = doctor.check_model_lifecycle()

        assert result.status == doctor.FAIL and "was shut down on 2026-12-01" in result.detail

    def test_a_distant_shutdown_passes(self, fake_openai, settings):
        settings.OPENAI_MODEL = "gpt-6-luna"
        far = timezone.localdate() + timedelta(days=200)
        fake_openai.set_model("gpt-6-luna", shutdown_date=far.isoformat())

        assert doctor.check_model_lifecycle().status == doctor.OK

    def test_a_model_that_no_longer_exists_fails(self, fake_openai, settings):
        settings.OPENAI_MODEL = "gpt-gone"
        fake_openai.set_model("gpt-gone", exists=False)

        result = doctor.check_model_lifecycle()

        assert result.status == doctor.FAIL and "cannot retrieve gpt-gone" in result.detail

    def test_a_model_without_a_price_warns_and_names_the_budgets_it_defeats(self, settings):
        settings.OPENAI_MODEL = "gpt-unpriced"
        settings.DAILY_COST_LIMIT_USD = 5

        result = doctor.check_prices()

        assert result.status == doctor.WARN
        assert "no price for gpt-unpriced" in result.detail and "DAILY_COST_LIMIT_USD" in result.detail

    def test_the_default_model_is_priced(self, settings):
        settings.OPENAI_MODEL = "gpt-6-luna"

        result = doctor.check_prices()

        assert result.status == doctor.OK and "$0.10 input" in result.detail

    def test_the_command_fails_on_a_shut_down_model(self, fake_openai, settings, demo_catalogue):
        from io import StringIO

        from django.core.management import CommandError

        settings.OPENAI_MODEL = "gpt-5-mini"
        fake_openai.set_model("gpt-5-mini", shutdown_date="2026-12-01")
        out = StringIO()

        with pytest.raises(CommandError):
            call_command("threads_doctor", stdout=out)

        assert "❌ Model lifecycle" in out.getvalue()


class TestSystemChecks:
    def test_the_default_model_raises_nothing(self, settings):
        settings.OPENAI_MODEL = "gpt-6-luna"
        assert not {"threads.W006", "threads.E006"} & set(thread_check_ids())

    def test_a_model_shutting_down_soon_warns_without_calling_openai(self, settings, monkeypatch):
        settings.OPENAI_MODEL = "gpt-5-mini"
        settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"  # nothing listens: a call would fail
        monkeypatch.setitem(checks.KNOWN_SHUTDOWNS, "gpt-5-mini", timezone.localdate() + timedelta(days=8))

        messages = [m for m in run_checks() if m.id == "threads.W006"]

        assert len(messages) == 1 and "gpt-5-mini" in messages[0].msg

    def test_a_model_past_its_shutdown_is_an_error(self, settings, monkeypatch):
        settings.OPENAI_MODEL = "gpt-5-mini"
        monkeypatch.setitem(checks.KNOWN_SHUTDOWNS, "gpt-5-mini", date(2026, 12, 1))

        assert "threads.E006" in thread_check_ids()

    def test_unusable_prices_are_an_error(self, settings):
        settings.OPENAI_PRICES = {"gpt-x": {"input": "cheap"}, "gpt-y": {"input": 1, "output": 2, "extra": 1}}

        messages = [m for m in run_checks() if m.id == "threads.E005"]

        assert len(messages) == 1 and "gpt-x" in messages[0].msg and "gpt-y" in messages[0].msg

    def test_a_dollar_limit_on_an_unpriced_model_warns(self, settings):
        settings.OPENAI_MODEL = "gpt-unpriced"
        settings.USER_DAILY_COST_LIMIT_USD = 1

        assert "threads.W007" in thread_check_ids()


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("OPENAI_PRICES", "{not json", "OPENAI_PRICES is not valid JSON"),
        ("OPENAI_REASONING_EFFORT", "turbo", "OPENAI_REASONING_EFFORT must be empty or one of"),
        ("OPENAI_MAX_OUTPUT_TOKENS", "8", "OPENAI_MAX_OUTPUT_TOKENS must be 0 (unset) or at least 16"),
        ("USER_DAILY_TURN_LIMIT", "many", "USER_DAILY_TURN_LIMIT must be a number"),
        ("DAILY_COST_LIMIT_USD", "-1", "DAILY_COST_LIMIT_USD must not be negative"),
        ("USER_DAILY_COST_LIMIT_USD", "NaN", "USER_DAILY_COST_LIMIT_USD must be a number"),
    ],
)
def test_bad_money_settings_stop_the_start_with_a_clear_message(tmp_path, variable, value, message):
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
        "SECRET_KEY": os.environ["SECRET_KEY"],  # the tests' key (pyproject.toml): DEBUG off needs one
        variable: value,
    }

    completed = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=Path(django_settings.BASE_DIR),
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert completed.returncode != 0
    assert message in completed.stderr
    assert "Traceback" not in completed.stderr.splitlines()[-1]
