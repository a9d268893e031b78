"""Shared by the headless-Chromium tests (Debian's chromium and chromium-driver, driven by Selenium)."""

import contextlib
import shutil

import pytest
from django.contrib.auth import get_user_model

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
STAFF_PASSWORD = "a-long-staff-password-1"

# Every browser test module: `pytestmark = BROWSER_TEST`.
BROWSER_TEST = [
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


def click_and_wait(browser, selector: str) -> None:
    """Click the element and wait until the page it leads to has loaded (clicks return before that)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    button = browser.find_element(By.CSS_SELECTOR, selector)
    button.click()
    WebDriverWait(browser, 15).until(expected_conditions.staleness_of(button))
    WebDriverWait(browser, 15).until(lambda b: b.execute_script("return document.readyState") == "complete")


def text_of(browser, element_id: str, *, containing: str = "", timeout_s: float = 10) -> str:
    """The element's text once it holds `containing`, read again while Chromium still swaps the document.

    Right after a navigation Chromium may answer a read with "node does not belong to the document":
    the read is retried, not failed. Returns the last text read (the caller asserts on it).
    """
    from selenium.common.exceptions import TimeoutException, WebDriverException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    seen = {"text": ""}

    def read(b) -> bool:
        seen["text"] = b.find_element(By.ID, element_id).text
        return containing in seen["text"]

    with contextlib.suppress(TimeoutException):
        WebDriverWait(browser, timeout_s, ignored_exceptions=(WebDriverException,)).until(read)
    return seen["text"]


def csp_violations(browser) -> list[str]:
    """Console messages about the Content-Security-Policy since the last call (reading empties the log)."""
    return [entry["message"] for entry in browser.get_log("browser") if "Content Security Policy" in entry["message"]]


def log_in_as_staff(browser, live_server) -> None:
    """Create a superuser "staff" and log in through the admin's own form."""
    from selenium.webdriver.common.by import By

    get_user_model().objects.create_superuser("staff", "staff@example.com", STAFF_PASSWORD)
    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element(By.NAME, "username").send_keys("staff")
    browser.find_element(By.NAME, "password").send_keys(STAFF_PASSWORD)
    click_and_wait(browser, "input[type=submit]")
