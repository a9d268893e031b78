"""The staff inbox in a real browser (headless Chromium): a message arrives while the inbox is open and
appears without a reload; then staff open the conversation, see the next message arrive, reply and resume the bot."""

from messaging import backends
from tests.browser_support import BROWSER_TEST, click_and_wait, log_in_as_staff
from threads import message_log
from threads.models import Contact, Message
from threads.services import process_user_messages

PHONE = "whatsapp:+5215577776666"
pytestmark = BROWSER_TEST
_sid = iter(range(10**6))


def user_writes(text: str) -> None:
    message_log.record_inbound(user_phone=PHONE, twilio_sid=f"SM{next(_sid):032x}", body=text, profile_name="Valeria")
    process_user_messages(user_phone=PHONE)


def wait_for_text(driver, element_id: str, text: str, timeout: float = 15) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # The page's poll may swap the element between finding it and reading it: look again then.
    WebDriverWait(driver, timeout, ignored_exceptions=(StaleElementReferenceException,)).until(
        lambda b: text in b.find_element(By.ID, element_id).text
    )


def test_new_messages_appear_live_then_staff_reply_and_resume(browser, live_server, settings, openai_off):
    from selenium.webdriver.common.by import By

    settings.MESSAGING_BACKEND = "messaging.backends.LocmemBackend"
    settings.BUSINESS_HOURS = "always"
    backends.outbox.clear()
    user_writes("Hola, ¿qué cursos tienen?")
    log_in_as_staff(browser, live_server)

    # The inbox is open; the user asks for a person: the row shows it without a reload.
    browser.get(f"{live_server.url}/admin/inbox/")
    wait_for_text(browser, "inbox-rows", "Valeria")
    browser.execute_script("window.stillTheSamePage = true")
    user_writes("quiero hablar con una persona")
    wait_for_text(browser, "inbox-rows", "waiting for staff")
    assert browser.execute_script("return window.stillTheSamePage") is True

    # The conversation: the next message arrives live, staff reply, then hand back to the bot.
    click_and_wait(browser, f"a[href*='{PHONE}']")
    wait_for_text(browser, "inbox-state", "bot paused")
    browser.execute_script("window.stillTheSamePage = true")
    user_writes("¿Me pueden ayudar con el pago?")
    wait_for_text(browser, "inbox-transcript", "¿Me pueden ayudar con el pago?")
    assert browser.execute_script("return window.stillTheSamePage") is True

    browser.find_element(By.NAME, "text").send_keys("Hola Valeria, soy Carla. Te ayudo con el pago.")
    click_and_wait(browser, "#reply-send")
    assert backends.outbox[-1].body == "Hola Valeria, soy Carla. Te ayudo con el pago."
    wait_for_text(browser, "inbox-transcript", "Hola Valeria, soy Carla")
    assert Contact.objects.get(pk=PHONE).waiting_since is None

    click_and_wait(browser, "#action-resume")
    assert not Contact.objects.get(pk=PHONE).bot_paused
    wait_for_text(browser, "inbox-state", "bot answering")
    assert Message.objects.filter(origin="staff", user_phone=PHONE).count() == 1
    backends.outbox.clear()


def test_long_unbroken_text_wraps_instead_of_widening_the_pages(browser, live_server, settings, openai_off):
    from django.contrib.admin.utils import quote

    from threads.models import OaThreadMap

    settings.MESSAGING_BACKEND = "messaging.backends.LocmemBackend"
    name = "Valeria" + "a" * 300
    message_log.record_inbound(user_phone=PHONE, twilio_sid=f"SM{next(_sid):032x}", body="x" * 3000, profile_name=name)
    Contact.objects.filter(pk=PHONE).update(
        waiting_reason="y" * Contact._meta.get_field("waiting_reason").max_length,
        waiting_since=Contact.objects.get().first_seen_at,
    )
    OaThreadMap.objects.create(user_phone=PHONE, thread_id="conv_long")
    log_in_as_staff(browser, live_server)

    for url in (
        "/admin/inbox/",
        f"/admin/inbox/{PHONE}/",
        f"/admin/threads/oathreadmap/{quote(PHONE)}/change/",
    ):
        browser.get(f"{live_server.url}{url}")
        width = browser.execute_script("return document.documentElement.scrollWidth")
        assert width <= browser.execute_script("return window.innerWidth"), f"{url} is {width} px wide"


def test_the_buttons_follow_the_state_and_what_staff_type_survives_the_refresh(
    browser, live_server, settings, openai_off
):
    from selenium.webdriver.common.by import By

    settings.MESSAGING_BACKEND = "messaging.backends.LocmemBackend"
    settings.BUSINESS_HOURS = "always"
    backends.outbox.clear()
    user_writes("Hola")
    log_in_as_staff(browser, live_server)
    browser.get(f"{live_server.url}/admin/inbox/{PHONE}/")
    browser.find_element(By.ID, "action-pause")
    browser.execute_script("window.stillTheSamePage = true")
    box = browser.find_element(By.NAME, "text")
    box.send_keys("Hola Valeria, ")

    user_writes("quiero hablar con una persona")  # the bot pauses itself: the buttons must say so

    wait_for_text(browser, "inbox-actions", "Resume the bot")
    assert "Pause the bot" not in browser.find_element(By.ID, "inbox-actions").text
    assert browser.execute_script("return window.stillTheSamePage") is True
    box = browser.find_element(By.NAME, "text")
    assert box.get_attribute("value") == "Hola Valeria, "
    box.send_keys("te atiendo yo.")
    click_and_wait(browser, "#reply-send")
    assert backends.outbox[-1].body == "Hola Valeria, te atiendo yo."

    click_and_wait(browser, "#action-reset")  # a confirmation page, not the reset itself
    assert "Yes, reset" in browser.page_source
    backends.outbox.clear()
