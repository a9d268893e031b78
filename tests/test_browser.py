"""A staff member in a real browser (headless Chromium from Debian, driven by Selenium):
log in, find a user, read the transcript, pause the bot, reply by hand, reset the thread, see the stats."""

import shutil

import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth import get_user_model
from django.utils import timezone

from messaging import backends
from threads.models import Contact, Message, OaThreadMap, Turn

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
PHONE = "whatsapp:+5215512340000"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not (CHROMIUM and CHROMEDRIVER),
        reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; .ci/run does)",
    ),
]


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,1000",
    ):
        options.add_argument(flag)
    # The console shows each Content-Security-Policy violation: csp_violations() reads them.
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(5)
    yield driver
    driver.quit()


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


def click_and_wait(browser, selector: str) -> None:
    """Click the element and wait until the page it leads to has loaded (clicks return before that)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    button = browser.find_element(By.CSS_SELECTOR, selector)
    button.click()
    WebDriverWait(browser, 15).until(expected_conditions.staleness_of(button))
    WebDriverWait(browser, 15).until(lambda b: b.execute_script("return document.readyState") == "complete")


def csp_violations(browser) -> list[str]:
    """Console messages about the Content-Security-Policy since the last call (reading empties the log)."""
    return [entry["message"] for entry in browser.get_log("browser") if "Content Security Policy" in entry["message"]]


def test_staff_member_reads_pauses_replies_resets_and_sees_stats(browser, live_server, conversation, settings):
    from selenium.webdriver.common.by import By

    settings.MESSAGING_BACKEND = "messaging.backends.LocmemBackend"
    backends.outbox.clear()
    get_user_model().objects.create_superuser("staff", "staff@example.com", "a-long-staff-password-1")

    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("staff")
    browser.find_element(By.NAME, "password").send_keys("a-long-staff-password-1")
    click_and_wait(browser, "input[type=submit]")
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
