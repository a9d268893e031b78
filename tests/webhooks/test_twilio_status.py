"""POST /webhooks/twilio/status: delivery statuses move forward only; unknown messages are fine."""

import logging

import pytest

from tests.webhooks.conftest import PHONE, TWILIO_TOKEN, twilio_signature
from threads import message_log
from threads.models import Message

pytestmark = pytest.mark.django_db

URL = "/webhooks/twilio/status"
OUT_SID = "SM" + "a" * 32


@pytest.fixture
def outbound():
    message = message_log.record_outbound(user_phone=PHONE, body="Tenemos 3 cursos de IA.", origin="assistant")
    message_log.mark_sent(message, sid=OUT_SID, status=Message.Status.QUEUED)
    return message


def callback(status: str, *, sid: str = OUT_SID, **extra) -> dict:
    return {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC" + "f" * 32, "To": PHONE, **extra}


def test_delivered_callback_moves_queued_message_forward(post_twilio, outbound):
    response = post_twilio(URL, callback("delivered"))

    assert response.status_code == 200
    outbound.refresh_from_db()
    assert outbound.status == Message.Status.DELIVERED


def test_a_callback_signed_with_a_shared_key_is_verified_like_an_inbound_message(post_twilio, outbound, settings):
    settings.TWILIO_SHARED_KEY_SECRETS = ["shared-key-secret-0123456789abcdef"]
    params = callback("delivered")
    headers = {"HTTP_X_TWILIO_WEBHOOKS_SIGNATURE_SETTINGS": "key=KS" + "0" * 32 + ",algorithm=HMAC_SHA256"}

    def signed(secret: str) -> str:
        return twilio_signature(f"http://testserver{URL}", params, token=secret, algorithm="HMAC_SHA256")

    assert post_twilio(URL, params, signature=signed("not-the-shared-key-secret-000000"), **headers).status_code == 403
    outbound.refresh_from_db()
    assert outbound.status == Message.Status.QUEUED
    assert (
        post_twilio(URL, params, signature=signed("shared-key-secret-0123456789abcdef"), **headers).status_code == 200
    )
    outbound.refresh_from_db()
    assert outbound.status == Message.Status.DELIVERED


@pytest.mark.parametrize("code", ["opted_out", "window_closed", "30008<script>", "1" * 17])
def test_an_error_code_that_is_not_twilios_is_a_400(post_twilio, outbound, code):
    response = post_twilio(URL, callback("failed", ErrorCode=code))

    assert response.status_code == 400
    assert "ErrorCode" in response.json()["fields"]
    outbound.refresh_from_db()
    assert (outbound.status, outbound.error_code) == (Message.Status.QUEUED, "")


@pytest.mark.parametrize("answered", ["accepted", "scheduled", "sending"])
def test_a_send_twilio_answered_with_a_status_we_do_not_track_is_stored_as_queued(post_twilio, answered):
    """A Messaging Service answers "accepted"; stored as such, the next callback was a 500."""
    message = message_log.record_outbound(user_phone=PHONE, body="Hola", origin="assistant")
    message_log.mark_sent(message, sid=OUT_SID, status=answered)
    message.refresh_from_db()
    assert message.status == Message.Status.QUEUED

    assert post_twilio(URL, callback("delivered")).status_code == 200
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED


def test_a_callback_for_a_row_stored_with_a_status_we_do_not_rank_moves_it_on(post_twilio, outbound):
    Message.objects.filter(pk=outbound.pk).update(status="accepted")  # stored before statuses were checked

    assert post_twilio(URL, callback("sent")).status_code == 200
    outbound.refresh_from_db()
    assert outbound.status == Message.Status.SENT


def test_stale_sent_after_delivered_is_ignored(post_twilio, outbound):
    post_twilio(URL, callback("delivered"))

    response = post_twilio(URL, callback("sent"))

    assert response.status_code == 200
    outbound.refresh_from_db()
    assert outbound.status == Message.Status.DELIVERED


def test_same_callback_twice_is_harmless(post_twilio, outbound):
    first = post_twilio(URL, callback("read"))
    second = post_twilio(URL, callback("read"))

    assert (first.status_code, second.status_code) == (200, 200)
    outbound.refresh_from_db()
    assert outbound.status == Message.Status.READ


def test_error_code_is_stored_with_the_failure(post_twilio, outbound):
    post_twilio(URL, callback("undelivered", ErrorCode="63016"))

    outbound.refresh_from_db()
    assert (outbound.status, outbound.error_code) == (Message.Status.UNDELIVERED, "63016")


def test_unknown_sid_is_accepted_and_logged(post_twilio, caplog):
    caplog.set_level(logging.INFO, logger="webhooks.views")

    response = post_twilio(URL, callback("delivered", sid="SM" + "b" * 32))

    assert response.status_code == 200
    assert any("unknown message SM" + "b" * 32 in text for text in caplog.messages)


def test_missing_message_sid_is_a_400(post_twilio, outbound):
    params = callback("delivered")
    del params["MessageSid"]

    response = post_twilio(URL, params)

    assert response.status_code == 400
    assert "MessageSid" in response.json()["fields"]


def test_missing_status_is_a_400(post_twilio, outbound):
    params = callback("delivered")
    del params["MessageStatus"]

    assert post_twilio(URL, params).status_code == 400


def test_forged_status_callback_changes_nothing(post_twilio, outbound):
    params = callback("failed", ErrorCode="30008")
    forged = twilio_signature(f"http://testserver{URL}", params, token=TWILIO_TOKEN + "x")

    response = post_twilio(URL, params, signature=forged)

    assert response.status_code == 403
    outbound.refresh_from_db()
    assert outbound.status == Message.Status.QUEUED


def test_trailing_slash_variant_is_served(post_twilio, outbound):
    assert post_twilio(f"{URL}/", callback("sent")).status_code == 200
    outbound.refresh_from_db()
    assert outbound.status == Message.Status.SENT
