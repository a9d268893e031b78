"""Staff in headless Chromium write to a user whose 24-hour window has closed: the form offers a template."""

from datetime import timedelta

import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.utils import timezone

from messaging import backends
from tests.test_browser import CHROMEDRIVER, CHROMIUM, browser, click_and_wait, csp_violations  # noqa: F401
from threads.models import Contact, Message, MessageTemplate, OaThreadMap

PHONE = "whatsapp:+5215512349999"
CONTENT_SID = "HX" + "e" * 32

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not (CHROMIUM and CHROMEDRIVER),
        reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; .ci/run does)",
    ),
]


def test_staff_send_a_template_when_the_window_is_closed(browser, live_server, settings):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    settings.MESSAGING_BACKEND = "messaging.backends.LocmemBackend"
    backends.outbox.clear()
    OaThreadMap.objects.create(user_phone=PHONE, thread_id="conv_window")
    Contact.objects.create(user_phone=PHONE, profile_name="Lucía", last_inbound_at=timezone.now() - timedelta(days=2))
    MessageTemplate.objects.create(
        name="retomar",
        content_sid=CONTENT_SID,
        body="Hola {{1}}, ¿retomamos lo de {{2}}?",
        variables="1: nombre\n2: curso",
    )
    get_user_model().objects.create_superuser("staff", "staff@example.com", "a-long-staff-password-1")
    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("staff")
    browser.find_element(By.NAME, "password").send_keys("a-long-staff-password-1")
    click_and_wait(browser, "input[type=submit]")

    # The free-form form says the window is closed and links to a template instead.
    browser.get(f"{live_server.url}/admin/threads/oathreadmap/{quote(PHONE)}/change/")
    click_and_wait(browser, ".object-tools a[href*='/send/']")
    assert "WINDOW CLOSED" in browser.find_element(By.ID, "brenda-selection").text
    click_and_wait(browser, "td.outbound-state a")

    # Choose the template, fill in its variables, preview, send.
    Select(browser.find_element(By.NAME, "template")).select_by_value("retomar")
    click_and_wait(browser, "input[name=preview]")
    browser.find_element(By.NAME, "var_1").send_keys("Lucía")
    browser.find_element(By.NAME, "var_2").send_keys("Python para datos")
    click_and_wait(browser, "input[name=preview]")
    assert browser.find_element(By.ID, "template-preview").text == "Hola Lucía, ¿retomamos lo de Python para datos?"
    assert backends.outbox == []
    click_and_wait(browser, "input[name=confirm]")

    assert [(m.content_sid, m.body) for m in backends.outbox] == [
        (CONTENT_SID, "Hola Lucía, ¿retomamos lo de Python para datos?")
    ]
    assert Message.objects.get(user_phone=PHONE).template.name == "retomar"
    assert "TEMPLATE" in browser.find_element(By.ID, "brenda-transcript").text
    assert csp_violations(browser) == []
    backends.outbox.clear()
