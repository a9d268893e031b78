"""Staff in headless Chromium write to a user whose 24-hour window has closed: the form offers a template."""

from datetime import timedelta

from django.contrib.admin.utils import quote
from django.utils import timezone

from messaging import backends
from tests.browser_support import BROWSER_TEST, click_and_wait, csp_violations, log_in_as_staff, text_of
from threads.models import Contact, Message, MessageTemplate, OaThreadMap

PHONE = "whatsapp:+5215512349999"
CONTENT_SID = "HX" + "e" * 32

pytestmark = BROWSER_TEST


def test_staff_send_a_template_when_the_window_is_closed(browser, live_server, settings):
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
    log_in_as_staff(browser, live_server)

    # The free-form form says the window is closed and links to a template instead.
    browser.get(f"{live_server.url}/admin/threads/oathreadmap/{quote(PHONE)}/change/")
    click_and_wait(browser, ".object-tools a[href*='/send/']")
    assert "WINDOW CLOSED" in text_of(browser, "brenda-selection", containing="WINDOW CLOSED")
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
