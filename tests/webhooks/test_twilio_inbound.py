"""POST /webhooks/twilio: signature, form validation, storage once per MessageSid, one task per new message."""

from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from django.tasks import default_task_backend

from tests.webhooks.conftest import PHONE, SID, TWILIO_TOKEN, deliver_concurrently, inbound_params, twilio_signature
from threads.models import Contact, Message

pytestmark = pytest.mark.django_db

URL = "/webhooks/twilio"


def enqueued(backend):
    return [(result.task.name, list(result.args)) for result in backend.results]


def test_signed_message_is_stored_enqueued_and_answered_with_empty_twiml(
    post_twilio, dummy_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_twilio(URL, inbound_params())

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert response.content.decode().replace(" ", "").endswith("<Response/>")
    message = Message.objects.get()
    assert (message.user_phone, message.twilio_sid, message.direction) == (PHONE, SID, "in")
    assert message.body == "Hola, ¿qué cursos de IA tienen?"
    assert message.status == Message.Status.RECEIVED
    assert enqueued(dummy_tasks) == [("process_user_messages_task", [PHONE])]


def test_task_is_enqueued_only_after_commit(post_twilio, dummy_tasks, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        post_twilio(URL, inbound_params())

    assert len(callbacks) == 1
    assert dummy_tasks.results == []


def test_forged_signature_is_refused_and_logged_without_secrets(post_twilio, dummy_tasks, caplog):
    forged = twilio_signature(f"http://testserver{URL}", inbound_params(), token="not-the-token")

    response = post_twilio(URL, inbound_params(), signature=forged)

    assert response.status_code == 403
    assert not Message.objects.exists()
    assert dummy_tasks.results == []
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("invalid signature" in text for text in warnings)
    assert not any(TWILIO_TOKEN in text or forged in text for text in caplog.messages)


def test_missing_signature_is_refused(post_twilio, caplog):
    response = post_twilio(URL, inbound_params(), signature="")

    assert response.status_code == 403
    assert not Message.objects.exists()
    assert any("missing signature" in text for text in caplog.messages)


SHARED_KEY_SECRET = "shared-key-secret-0123456789abcdef"
SIGNED_WITH_SHARED_KEY = "key=KS" + "0" * 32 + ",algorithm=HMAC_SHA256"


def post_signed_with_shared_key(post_twilio, *, secret=SHARED_KEY_SECRET, algorithm="HMAC_SHA256", header=None):
    params = inbound_params()
    signature = twilio_signature(f"http://testserver{URL}", params, token=secret, algorithm=algorithm)
    header = header if header is not None else SIGNED_WITH_SHARED_KEY
    return post_twilio(URL, params, signature=signature, HTTP_X_TWILIO_WEBHOOKS_SIGNATURE_SETTINGS=header)


def test_a_webhook_signed_with_a_shared_key_is_accepted(post_twilio, settings):
    settings.TWILIO_SHARED_KEY_SECRETS = [SHARED_KEY_SECRET]

    assert post_signed_with_shared_key(post_twilio).status_code == 200
    assert Message.objects.count() == 1


def test_while_a_shared_key_rotates_either_secret_is_accepted(post_twilio, settings):
    settings.TWILIO_SHARED_KEY_SECRETS = ["the-old-shared-key-secret-0123456", SHARED_KEY_SECRET]

    assert post_signed_with_shared_key(post_twilio).status_code == 200
    assert Message.objects.count() == 1


def test_a_shared_key_signature_without_its_secret_configured_is_refused_and_says_what_to_set(
    post_twilio, settings, caplog
):
    settings.TWILIO_SHARED_KEY_SECRETS = []

    response = post_signed_with_shared_key(post_twilio)

    assert response.status_code == 403
    assert not Message.objects.exists()
    assert any(
        "TWILIO_SHARED_KEY_SECRETS is not set" in r.getMessage() for r in caplog.records if r.levelname == "ERROR"
    )


@pytest.mark.parametrize(
    ("secret", "algorithm", "header"),
    [
        ("another-shared-key-secret-000000", "HMAC_SHA256", None),  # a key we do not hold
        (SHARED_KEY_SECRET, "HMAC_SHA1", None),  # the header names SHA-256: a SHA-1 signature is not it
        (TWILIO_TOKEN, "HMAC_SHA1", "key=KS" + "0" * 32),  # the auth token cannot stand in for the shared key
        (SHARED_KEY_SECRET, "HMAC_SHA256", "key=KS" + "0" * 32 + ",algorithm=HMAC_SHA512"),  # unknown algorithm
    ],
    ids=["unknown-key", "wrong-algorithm", "auth-token", "unsupported-algorithm"],
)
def test_a_shared_key_signature_that_does_not_match_is_refused_without_logging_secrets(
    post_twilio, settings, caplog, secret, algorithm, header
):
    settings.TWILIO_SHARED_KEY_SECRETS = [SHARED_KEY_SECRET]

    response = post_signed_with_shared_key(post_twilio, secret=secret, algorithm=algorithm, header=header)

    assert response.status_code == 403
    assert not Message.objects.exists()
    assert any("check PUBLIC_BASE_URL and TWILIO_SHARED_KEY_SECRETS" in text for text in caplog.messages)
    assert not any(SHARED_KEY_SECRET in text or TWILIO_TOKEN in text for text in caplog.messages)


def test_body_changed_after_signing_is_refused(post_twilio):
    signature = twilio_signature(f"http://testserver{URL}", inbound_params())

    response = post_twilio(URL, inbound_params(Body="Dame todos los cursos gratis"), signature=signature)

    assert response.status_code == 403


def test_unsigned_request_is_accepted_when_validation_is_off(post_twilio, settings):
    settings.TWILIO_VALIDATE_SIGNATURE = False

    response = post_twilio(URL, inbound_params(), signature="")

    assert response.status_code == 200
    assert Message.objects.count() == 1


def test_empty_auth_token_never_validates(post_twilio, settings):
    settings.TWILIO_AUTH_TOKEN = ""
    url = f"http://testserver{URL}"

    response = post_twilio(URL, inbound_params(), signature=twilio_signature(url, inbound_params(), token=""))

    assert response.status_code == 403


def test_behind_a_proxy_the_public_url_is_validated(post_twilio, settings):
    settings.PUBLIC_BASE_URL = "https://brenda.example.com"

    response = post_twilio(URL, inbound_params(), signed_url=f"https://brenda.example.com{URL}")

    assert response.status_code == 200
    assert Message.objects.count() == 1


def test_behind_a_proxy_the_internal_url_no_longer_validates(post_twilio, settings):
    settings.PUBLIC_BASE_URL = "https://brenda.example.com"

    response = post_twilio(URL, inbound_params(), signed_url=f"http://testserver{URL}")

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("public_base_url", "twilio_signed"),
    [
        ("https://brenda.example.com", "https://brenda.example.com:443"),  # Twilio added the default port
        ("https://brenda.example.com:443", "https://brenda.example.com"),  # or left it out
    ],
)
def test_a_signature_over_the_url_with_or_without_its_default_port_is_valid(
    post_twilio, settings, public_base_url, twilio_signed
):
    settings.PUBLIC_BASE_URL = public_base_url

    response = post_twilio(URL, inbound_params(), signed_url=f"{twilio_signed}{URL}")

    assert response.status_code == 200
    assert Message.objects.count() == 1


def test_wrong_public_base_url_is_refused(post_twilio, settings):
    settings.PUBLIC_BASE_URL = "https://old-tunnel.example.net"

    response = post_twilio(URL, inbound_params(), signed_url=f"https://brenda.example.com{URL}")

    assert response.status_code == 403


def test_query_string_is_part_of_the_signed_url(post_twilio, settings):
    settings.PUBLIC_BASE_URL = "https://brenda.example.com"
    path = f"{URL}?source=whatsapp&v=2"

    assert post_twilio(path, inbound_params(), signed_url=f"https://brenda.example.com{URL}").status_code == 403
    assert post_twilio(path, inbound_params(), signed_url=f"https://brenda.example.com{path}").status_code == 200


def test_trailing_slash_variant_is_served_without_redirect(post_twilio):
    response = post_twilio(f"{URL}/", inbound_params())

    assert response.status_code == 200
    assert Message.objects.count() == 1


def test_get_is_not_allowed(client, twilio_settings):
    assert client.get(URL).status_code == 405


@pytest.mark.parametrize(
    "sender",
    [
        "5215512345678",
        "whatsapp:5215512345678",
        "whatsapp:+52",
        "whatsapp:+52155123456789012",
        "whatsapp:+52abc1234567",
        "sms:+5215512345678",
        "whatsapp:+0215512345678",
        "",
    ],
)
def test_malformed_sender_is_a_400(post_twilio, dummy_tasks, sender):
    response = post_twilio(URL, inbound_params(From=sender))

    assert response.status_code == 400
    assert "From" in response.json()["fields"]
    assert not Message.objects.exists()
    assert dummy_tasks.results == []


def test_plain_e164_sender_is_accepted(post_twilio):
    response = post_twilio(URL, inbound_params(From="+5215512345678"))

    assert response.status_code == 200
    assert Message.objects.get().user_phone == "+5215512345678"


def test_missing_message_sid_is_a_400(post_twilio):
    response = post_twilio(URL, inbound_params(MessageSid=None))

    assert response.status_code == 400
    assert response.json()["error"] == "invalid Twilio inbound message"
    assert "MessageSid" in response.json()["fields"]


@pytest.mark.parametrize(
    "sid", ["SM123", "SM' OR 1=1 --", "S" * 70, "12" + "a" * 32, "AC" + "a" * 32, "SM" + "a" * 33, "SM" + "g" * 32]
)
def test_malformed_message_sid_is_a_400(post_twilio, sid):
    response = post_twilio(URL, inbound_params(MessageSid=sid))

    assert response.status_code == 400
    assert not Message.objects.exists()


def test_a_captured_request_whose_sid_swallowed_the_next_field_is_not_a_new_message(post_twilio):
    """Twilio signs the URL plus keys and values run together: moving a boundary keeps the signature."""
    params = inbound_params()
    signature = twilio_signature(f"http://testserver{URL}", params)
    assert post_twilio(URL, params, signature=signature).status_code == 200
    shifted = {k: v for k, v in params.items() if k != "MessageType"}
    shifted["MessageSid"] = params["MessageSid"] + "MessageType" + params["MessageType"]
    assert twilio_signature(f"http://testserver{URL}", shifted) == signature  # the same signature, a "new" sid

    response = post_twilio(URL, shifted, signature=signature)

    assert response.status_code == 400
    assert Message.objects.count() == 1


@pytest.mark.parametrize(
    "body",
    [
        "MessageSid={sid}&From=whatsapp%3A%2B5215512345678&From=whatsapp%3A%2B5215599999999&Body=hola",
        "MessageSid={sid}&From=whatsapp%3A%2B5215512345678&Body=real&Bo%00dy=injected",
    ],
    ids=["repeated", "same-once-nul-is-removed"],
)
def test_a_field_sent_twice_is_a_400(client, twilio_settings, body):
    body = body.format(sid=SID)
    signature = twilio_signature(f"http://testserver{URL}", QueryDict(body))  # signed: every value of every key

    response = client.post(
        URL, body, content_type="application/x-www-form-urlencoded", HTTP_X_TWILIO_SIGNATURE=signature
    )

    assert response.status_code == 400
    assert "must appear once" in str(response.json()["fields"])
    assert not Message.objects.exists()


def test_nul_characters_are_stripped_from_every_field(post_twilio):
    params = inbound_params(
        From="whatsapp:+52155\x0012345678",
        MessageSid=SID[:10] + "\x00" + SID[10:],
        Body="Ho\x00la",
        ProfileName="A\x00na",
    )

    response = post_twilio(URL, params)

    assert response.status_code == 200
    message = Message.objects.get()
    assert (message.user_phone, message.twilio_sid, message.body) == (PHONE, SID, "Hola")
    assert Contact.objects.get(pk=PHONE).profile_name == "Ana"


def test_long_body_is_cut_at_4096_characters_and_stored(post_twilio):
    response = post_twilio(URL, inbound_params(Body="á" * 5000))

    assert response.status_code == 200
    assert Message.objects.get().body == "á" * 4096


def test_profile_name_is_stored_and_capped(post_twilio):
    post_twilio(URL, inbound_params(ProfileName="N" * 300))

    assert Contact.objects.get(pk=PHONE).profile_name == "N" * 200


def test_media_are_stored(post_twilio, dummy_tasks, django_capture_on_commit_callbacks):
    params = inbound_params(
        Body="",
        NumMedia="2",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2",
        MediaContentType1="audio/ogg",
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = post_twilio(URL, params)

    assert response.status_code == 200
    message = Message.objects.get()
    assert message.body == ""
    assert message.media == [
        {"url": params["MediaUrl0"], "content_type": "image/jpeg"},
        {"url": params["MediaUrl1"], "content_type": "audio/ogg"},
    ]
    assert enqueued(dummy_tasks) == [("process_user_messages_task", [PHONE])]


def test_media_are_capped_at_ten_and_malformed_entries_skipped(post_twilio):
    params = inbound_params(NumMedia="12")
    for index in range(12):
        params[f"MediaUrl{index}"] = f"https://media.example.com/{index}"
        params[f"MediaContentType{index}"] = "image/png"
    params["MediaUrl1"] = "javascript:alert(1)"
    params["MediaContentType2"] = "not a type"

    post_twilio(URL, params)

    media = Message.objects.get().media
    assert [m["url"].rsplit("/", 1)[1] for m in media] == ["0", "2", "3", "4", "5", "6", "7", "8", "9"]
    assert media[1]["content_type"] == "application/octet-stream"


@pytest.mark.parametrize("num_media", ["many", "-1", ""])
def test_unreadable_num_media_still_reads_the_media_slots(post_twilio, num_media):
    post_twilio(
        URL, inbound_params(NumMedia=num_media, MediaUrl0="https://media.example.com/a", MediaContentType0="image/png")
    )

    assert Message.objects.get().media == [{"url": "https://media.example.com/a", "content_type": "image/png"}]


def test_an_inbound_message_reusing_an_outbound_sid_is_ignored_with_a_warning(post_twilio, caplog):
    sent = Message.objects.create(
        user_phone=PHONE, direction="out", origin="assistant", status="sent", body="Hola", twilio_sid=SID
    )

    response = post_twilio(URL, inbound_params(From="whatsapp:+5215599990000", Body="otra cosa"))

    assert response.status_code == 200  # Twilio must not retry it
    assert list(Message.objects.values_list("pk", flat=True)) == [sent.pk]
    assert any("reuses the sid of outbound message" in text for text in caplog.messages)


def test_duplicate_message_sid_is_stored_and_enqueued_once(
    post_twilio, dummy_tasks, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = post_twilio(URL, inbound_params())
    with django_capture_on_commit_callbacks(execute=True):
        second = post_twilio(URL, inbound_params(Body="otra copia"))

    assert (first.status_code, second.status_code) == (200, 200)
    assert second["Content-Type"].startswith("text/xml")
    assert Message.objects.get().body == "Hola, ¿qué cursos de IA tienen?"
    assert len(dummy_tasks.results) == 1


def test_redelivery_of_a_message_whose_task_was_never_queued_queues_it(
    post_twilio, dummy_tasks, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    with django_capture_on_commit_callbacks(execute=False):  # the enqueue after commit failed
        post_twilio(URL, inbound_params())
    Message.objects.update(created_at=timezone.now() - timedelta(seconds=20))

    with django_capture_on_commit_callbacks(execute=True):
        retried = post_twilio(URL, inbound_params())  # Twilio retries after our 500

    assert retried.status_code == 200 and Message.objects.count() == 1
    assert [r.args for r in dummy_tasks.results] == [[PHONE]]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_parallel_duplicates_store_one_message_and_enqueue_one_task(twilio_settings):
    copies = 8
    params = inbound_params()
    signature = twilio_signature(f"http://testserver{URL}", params)

    def deliver(client):
        response = client.post(
            URL,
            urlencode(params),
            content_type="application/x-www-form-urlencoded",
            HTTP_X_TWILIO_SIGNATURE=signature,
        )
        return response.status_code, len(default_task_backend.results)

    statuses, enqueues = zip(*deliver_concurrently(copies, deliver), strict=True)

    assert list(statuses) == [200] * copies
    assert Message.objects.filter(twilio_sid=SID).count() == 1
    assert sum(enqueues) == 1
