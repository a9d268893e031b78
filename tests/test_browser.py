"""A staff member in a real browser (headless Chromium from Debian, driven by Selenium):
log in, find a user, read the transcript, pause the bot, reply by hand, reset the thread, see the stats."""

import pytest
from django.contrib.admin.utils import quote
from django.utils import timezone

from messaging import backends
from tests.browser_support import BROWSER_TEST, click_and_wait, csp_violations, log_in_as_staff
from threads.models import Contact, Message, OaThreadMap, Turn

PHONE = "whatsapp:+5215512340000"

pytestmark = BROWSER_TEST


@pytest.fixture
def conversation():
    OaThreadMap.objects.create(user_phone=PHONE, thread_id="conv_browser123")
    # She wrote a minute ago: WhatsApp's 24-hour window is open for a staff reply.
    Contact.objects.create(user_phone=PHONE, profile_name="Mariana", last_inbound_at=timezone.now())
    turn = Turn.objects.create(
        user_phone=PHONE,
        engine="responses",
        status="completed",
        latency_ms=812,
        tool_calls=[{"name": "buscar_curso", "ok": True, "ms": 4}],
    )
    Message.objects.create(
        user_phone=PHONE,
        direction="in",
        origin="user",
        twilio_sid="SM" + "b" * 32,
        body="¿Tienen cursos de visión?",
        status="received",
        turn=turn,
    )
    Message.objects.create(
        user_phone=PHONE,
        direction="out",
        origin="assistant",
        twilio_sid="SM" + "d" * 32,
        body="Sí: «Visión por computadora con Python».",
        status="delivered",
        turn=turn,
    )


def test_staff_member_reads_pauses_replies_resets_and_sees_stats(browser, live_server, conversation, settings):
    from selenium.webdriver.common.by import By

    settings.MESSAGING_BACKEND = "messaging.backends.LocmemBackend"
    backends.outbox.clear()
    log_in_as_staff(browser, live_server)
    assert "Statistics" in browser.page_source  # the admin index links the stats page
    assert csp_violations(browser) == []

    # Find the user by WhatsApp name and open the transcript.
    browser.get(f"{live_server.url}/admin/threads/oathreadmap/?q=Mariana")
    click_and_wait(browser, f"a[href*='{quote(PHONE)}']")
    transcript = browser.find_element(By.ID, "brenda-transcript").text
    assert "¿Tienen cursos de visión?" in transcript and "Visión por computadora con Python" in transcript
    assert "buscar_curso" in transcript and "812 ms" in transcript
    assert csp_violations(browser) == []

    # The changelist's action bar (the admin's own JavaScript) works under the policy.
    browser.get(f"{live_server.url}/admin/threads/oathreadmap/")
    browser.find_element(By.ID, "action-toggle").click()
    assert browser.find_element(By.CSS_SELECTOR, ".action-counter").text.startswith("1 of 1 selected")
    assert csp_violations(browser) == []

    # Pause the bot (human takeover).
    browser.get(f"{live_server.url}/admin/threads/oathreadmap/{quote(PHONE)}/change/")
    click_and_wait(browser, ".object-tools a[href*='/pause/']")
    click_and_wait(browser, "input[type=submit].default")
    assert Contact.objects.get(pk=PHONE).bot_paused

    # Reply by hand.
    change_page = f"{live_server.url}/admin/threads/oathreadmap/{quote(PHONE)}/change/"
    browser.get(change_page)
    click_and_wait(browser, ".object-tools a[href*='/send/']")
    browser.find_element(By.TAG_NAME, "textarea").send_keys("Hola Mariana, te escribe Carla del equipo.")
    click_and_wait(browser, "input[type=submit].default")
    assert [m.body for m in backends.outbox] == ["Hola Mariana, te escribe Carla del equipo."]
    assert Message.objects.filter(origin="staff", user_phone=PHONE).exists()

    # Reset the thread.
    browser.get(change_page)
    click_and_wait(browser, ".object-tools a[href*='/reset/']")
    click_and_wait(browser, "input[type=submit].default")
    assert not OaThreadMap.objects.filter(pk=PHONE).exists()

    assert csp_violations(browser) == []

    # The stats page draws its charts, styled by its nonce'd <style> (a blocked one leaves the flex layout off).
    browser.get(f"{live_server.url}/admin/threads/stats/")
    assert browser.find_elements(By.CSS_SELECTOR, "svg")
    assert "Brenda statistics" in browser.title
    charts = browser.find_element(By.CSS_SELECTOR, ".brenda-charts")
    assert charts.value_of_css_property("display") == "flex"
    assert csp_violations(browser) == []
    backends.outbox.clear()
