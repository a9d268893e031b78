"""The operator's entry points, run as an operator runs them: migrate, loaddata, createsuperuser,
gunicorn and db_worker as separate processes configured only through the environment."""

import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
import requests

from tests.webhooks.conftest import inbound_params, twilio_signature

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def operator_env(tmp_path):
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENAI_", "TWILIO_", "DJANGO_", "DATABASE_", "TASKS_"))
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'brenda.sqlite3'}",
        SECRET_KEY="operator-test-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        TASKS_BACKEND="database",
        TWILIO_AUTH_TOKEN="operator-test-token",
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        DJANGO_SUPERUSER_USERNAME="ops",
        DJANGO_SUPERUSER_EMAIL="ops@example.com",
        DJANGO_SUPERUSER_PASSWORD="a-long-operator-password-42",
        GUNICORN_BIND=f"127.0.0.1:{port}",
        GUNICORN_WORKERS="2",
    )
    return env, port


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}"
    return done


def wait_until_up(url: str, process: subprocess.Popen) -> None:
    for _ in range(150):
        assert process.poll() is None, "gunicorn exited early"
        try:
            if requests.get(url, timeout=5).status_code in (200, 503):
                return
        except requests.RequestException:
            time.sleep(0.1)
    raise AssertionError("gunicorn did not come up")


def test_operator_setup_serves_the_bot_and_the_admin(operator_env):
    env, port = operator_env
    base = f"http://127.0.0.1:{port}"
    manage(env, "migrate", "--noinput")
    manage(env, "loaddata", "demo_courses")
    manage(env, "createsuperuser", "--noinput")

    server = subprocess.Popen(
        [str(VENV_BIN / "gunicorn"), "brenda.wsgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until_up(f"{base}/", server)
        health = requests.get(f"{base}/", timeout=5).json()
        assert health["status"] == "ok" and health["tasks"]["backend"] == "database"
        assert requests.get(f"{base}/static/admin/css/base.css", timeout=5).status_code == 200

        # The admin, logged in as the superuser createsuperuser made.
        session = requests.Session()
        login_page = session.get(f"{base}/admin/login/", timeout=5)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login_page.text).group(1)
        session.post(
            f"{base}/admin/login/?next=/admin/",
            data={"csrfmiddlewaretoken": token, "username": "ops", "password": "a-long-operator-password-42"},
            headers={"Referer": f"{base}/admin/login/"},
            timeout=5,
        )
        courses = session.get(f"{base}/admin/courses/course/", timeout=5)
        assert courses.status_code == 200 and "Machine Learning aplicado" in courses.text

        # A signed WhatsApp message is acknowledged at once and answered by a worker.
        params = inbound_params(Body="¿Qué cursos tienen?")
        url = f"{base}/webhooks/twilio"
        ack = requests.post(
            url,
            data=urlencode(params),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": twilio_signature(url, params, token="operator-test-token"),
            },
            timeout=5,
        )
        assert ack.status_code == 200 and "<Response" in ack.text
        forged = requests.post(url, data=params, headers={"X-Twilio-Signature": "forged"}, timeout=5)
        assert forged.status_code == 403
    finally:
        server.terminate()
        server.wait(15)

    worker = manage(env, "db_worker", "--batch", "--queue-name", "*", "--no-startup-delay")
    assert "--- WhatsApp to whatsapp:+5215512345678 ---" in worker.stdout
    assert "Introducción a la Inteligencia Artificial" in worker.stdout
