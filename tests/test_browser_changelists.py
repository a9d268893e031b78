"""Admin list pages in a real browser at 1,400 px (issue 11): no right-hand column is clipped.

Each changelist (and the inbox list) is filled with the widest values it meets in practice (long
names, thread ids, message bodies without spaces, every flag) and its table must fit the box it
sits in: Django's `.results` box scrolls sideways when it does not, hiding the last columns.
"""

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from tests.browser_support import BROWSER_TEST
from threads.models import Contact, Message, MessageTemplate, OaThreadMap, Turn

pytestmark = BROWSER_TEST

WIDTH = 1400
PAGES = {
    "thread mappings": "/admin/threads/oathreadmap/",
    "contacts": "/admin/threads/contact/",
    "turns": "/admin/threads/turn/",
    "messages": "/admin/threads/message/",
    "message templates": "/admin/threads/messagetemplate/",
    "courses": "/admin/courses/course/",
    "inbox": "/admin/inbox/",
}
# The table of each page and the box it must fit in.
MEASURE = """
const table = document.querySelector('#result_list, table.inbox-list');
if (!table) { return null; }
const box = table.closest('.results') || table.parentElement;
return {table: Math.ceil(table.getBoundingClientRect().width), box: box.clientWidth,
        page: document.documentElement.scrollWidth, window: document.documentElement.clientWidth};
"""


@pytest.fixture
def wide_rows(demo_catalogue):
    """Rows with the widest values each list shows."""
    now = timezone.now()
    long_name = "María Fernanda de los Ángeles Villaseñor Castañeda"
    for i in range(3):
        phone = f"whatsapp:+52155512300{i:02d}"
        Contact.objects.create(
            user_phone=phone,
            profile_name=long_name,
            bot_paused=True,
            last_inbound_at=now,
            opted_out_at=now if i == 0 else None,
            opted_out_via="BAJA",
            waiting_since=now if i == 1 else None,
            waiting_reason="problema con un pago duplicado en la tarjeta de crédito",
            limits_reset_at=now,
        )
        OaThreadMap.objects.create(user_phone=phone, thread_id=f"conv_{'6a1f3c9e2b7d4e8fa0c5' * 2}{i}")
        turn = Turn.objects.create(
            user_phone=phone,
            engine="responses",
            model="gpt-4.1-mini-2025-04-14",
            status="fallback",
            fallback_used=True,
            error="OpenAIError: upstream timeout after 3 retries (request_id req_0123456789abcdef)",
            latency_ms=123456,
            input_tokens=123456,
            cached_input_tokens=65432,
            reasoning_tokens=1234,
            cost_usd="0.123456",
            fallback_reason="limit_user_cost",
            price_checks=[{"amount": "1234.50", "ok": False}],
            output_tokens=4321,
            tool_calls=[{"name": "buscar_curso", "ok": True, "ms": 4}, {"name": "solicitar_asesor", "ok": False}],
        )
        for direction, origin, status in (("in", "user", "received"), ("out", "staff", "failed")):
            Message.objects.create(
                user_phone=phone,
                direction=direction,
                origin=origin,
                twilio_sid=f"SM{direction}{i:030d}",
                body="Mira https://example.com/" + "cursos-de-inteligencia-artificial-" * 6 + " ¿cuál me recomiendas?",
                status=status,
                error_code="63016" if status == "failed" else "",
                turn=turn,
            )
    MessageTemplate.objects.create(
        name="recordatorio_de_inscripcion_al_curso_de_machine_learning_avanzado",
        language="es_MX",
        body="Hola {{1}}, tu lugar en {{2}} ({{3}}) sigue apartado hasta el {{4}} a las {{5}}.",
        content_sid="HX" + "0123456789abcdef" * 2,
        active=True,
    )


@pytest.fixture
def staff_browser(browser, live_server):
    get_user_model().objects.create_superuser("lead", "lead@example.com", "a-long-password-for-lead")
    browser.set_window_size(WIDTH, 1000)
    browser.get(f"{live_server.url}/admin/login/")
    browser.find_element("name", "username").send_keys("lead")
    browser.find_element("name", "password").send_keys("a-long-password-for-lead")
    browser.find_element("css selector", "input[type=submit]").click()
    browser.find_element("id", "user-tools")  # logged in
    return browser


def test_no_admin_list_clips_its_right_hand_columns_at_1400_px(staff_browser, live_server, wide_rows):
    measured = {}
    for name, path in PAGES.items():
        staff_browser.get(live_server.url + path)
        staff_browser.find_element("css selector", "#content")
        measured[name] = staff_browser.execute_script(MEASURE)

    assert all(sizes is not None for sizes in measured.values()), measured  # each page has its table
    assert measured["contacts"]["window"] <= WIDTH  # the window really is 1,400 px wide
    too_wide = {name: sizes for name, sizes in measured.items() if sizes["table"] > sizes["box"]}
    assert too_wide == {}
    overflowing = {name: sizes for name, sizes in measured.items() if sizes["page"] > sizes["window"]}
    assert overflowing == {}
