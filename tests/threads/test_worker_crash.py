"""A real `db_worker` killed with SIGKILL in the middle of a turn: the message is still answered, once."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from threads import message_log
from threads.models import Contact, Message, Turn
from threads.tasks import process_user_messages_task

PHONE = "whatsapp:+5215577778888"
ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def start_worker(env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "db_worker", "--queue-name", "*", "--interval", "0.1", "--no-startup-delay"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_message_survives_a_worker_killed_mid_turn(settings, fake_openai, worker_env):
    env = {**worker_env, "OPENAI_RUN_TIMEOUT_S": "3", "TURN_LEASE_S": "1.5"}
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    fake_openai.latency_s = 2.0
    message_log.record_inbound(user_phone=PHONE, twilio_sid="SM" + "c" * 32, body="hola, me llamo Iker")
    process_user_messages_task.enqueue(PHONE)

    first = start_worker(env)
    try:
        wait_for(lambda: fake_openai.calls("/responses", "POST"), 20, "the first worker to ask the model")
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert Turn.objects.get().status == Turn.Status.RUNNING  # the dead worker left its turn open
    fake_openai.latency_s = 0

    second = start_worker(env)
    try:
        wait_for(lambda: Message.objects.filter(direction="out").exists(), 30, "the recovered reply")
        time.sleep(1.5)  # give a duplicate every chance to appear
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(15)

    (reply,) = Message.objects.filter(direction="out")
    assert "Te llamas Iker" in reply.body and reply.status == Message.Status.CONSOLE
    statuses = list(Turn.objects.order_by("pk").values_list("status", flat=True))
    assert statuses == [Turn.Status.ABANDONED, Turn.Status.COMPLETED]
    assert Message.objects.get(direction="in").turn.status == Turn.Status.COMPLETED
    assert Contact.objects.get(pk=PHONE).lock_token == ""
