"""Server-side SVG charts: well-formed, every text escaped, empty data handled."""

import xml.etree.ElementTree as ET

import pytest
from django.template import Context, Template

from threads.charts import Series, bar_chart, horizontal_bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"
EVIL = "<script>alert(\"x\")</script> & 'quotes'"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # raises on malformed markup, e.g. an unescaped "<" or "&"


def texts(root: ET.Element) -> list[str]:
    return ["".join(el.itertext()) for el in root.iter() if el.tag in (f"{SVG}text", f"{SVG}title")]


@pytest.mark.parametrize(
    "draw",
    [
        lambda: bar_chart(title=EVIL, labels=[EVIL, "b"], series=[Series(EVIL, [1, 2]), Series("out", [3, 4])]),
        lambda: line_chart(title=EVIL, labels=[EVIL, "b"], series=[Series(EVIL, [1, 2])], unit=EVIL),
        lambda: horizontal_bar_chart(title=EVIL, items=[(EVIL, 3)], unit=EVIL),
        lambda: bar_chart(title=EVIL, labels=[], series=[]),
    ],
    ids=["bar", "line", "horizontal", "empty"],
)
def test_every_text_is_escaped_and_the_markup_stays_well_formed(draw):
    svg = draw()

    assert "<script" not in svg
    assert "&lt;script&gt;" in svg
    root = parse(svg)
    assert root.tag == f"{SVG}svg"
    assert root.get("aria-label") == EVIL  # the parser unescapes it back to the original text
    assert any(EVIL in text for text in texts(root))


def test_bar_chart_draws_one_bar_per_value_with_a_tooltip_and_a_legend():
    svg = bar_chart(
        title="Messages per day",
        labels=["May 01", "May 02", "May 03"],
        series=[Series("Inbound", [1, 5, None]), Series("Outbound", [0, 2, 7])],
    )

    root = parse(svg)
    bars = [el for el in root.iter(f"{SVG}rect") if el.find(f"{SVG}title") is not None]
    assert len(bars) == 5  # None is no bar; zero is a bar of height 0
    assert "May 02 · Inbound: 5" in texts(root)
    assert {"Inbound", "Outbound"} <= set(texts(root))
    tallest = max(bars, key=lambda el: float(el.get("height")))
    assert tallest.find(f"{SVG}title").text == "May 03 · Outbound: 7"


def test_the_value_axis_rounds_up_to_a_readable_maximum():
    root = parse(bar_chart(title="t", labels=["a"], series=[Series("s", [7])]))

    assert "10" in texts(root)  # 7 → an axis up to 10
    assert "7" not in texts(root)


def test_line_chart_breaks_the_line_at_missing_values():
    root = parse(line_chart(title="Latency", labels=list("abcde"), series=[Series("p50", [1, 2, None, 3, 4])]))

    assert len(list(root.iter(f"{SVG}polyline"))) == 2
    assert len(list(root.iter(f"{SVG}circle"))) == 4


def test_line_chart_with_a_single_point_draws_the_point():
    root = parse(line_chart(title="Latency", labels=["today"], series=[Series("p50", [120])], unit=" ms"))

    assert len(list(root.iter(f"{SVG}circle"))) == 1
    assert "today · p50: 120 ms" in texts(root)


@pytest.mark.parametrize(
    "svg",
    [
        bar_chart(title="Turns", labels=[], series=[Series("Turns", [])]),
        bar_chart(title="Turns", labels=["a", "b"], series=[Series("Turns", [None, None])]),
        line_chart(title="Latency", labels=["a"], series=[]),
        horizontal_bar_chart(title="Tools", items=[]),
        horizontal_bar_chart(title="Tools", items=[("buscar_curso", 0)]),
    ],
)
def test_no_data_draws_a_placeholder_instead_of_failing(svg):
    root = parse(svg)

    assert "No data" in texts(root)
    assert not list(root.iter(f"{SVG}polyline"))


def test_all_zero_values_still_draw_the_axes():
    root = parse(bar_chart(title="Turns", labels=["a", "b"], series=[Series("Turns", [0, 0])]))

    assert "No data" not in texts(root)
    assert "1" in texts(root)  # the axis does not collapse to zero height


def test_horizontal_bars_keep_the_given_order_and_show_values():
    root = parse(horizontal_bar_chart(title="Tools", items=[("buscar_curso", 12), ("detalle_curso", 3)]))

    labels = [t for t in texts(root) if t.endswith("_curso")]
    assert labels == ["buscar_curso", "detalle_curso"]
    assert "12" in texts(root) and "3" in texts(root)


def test_a_colour_that_is_not_a_hex_code_is_replaced_by_the_palette():
    svg = bar_chart(title="t", labels=["a"], series=[Series("s", [1], color='red" onload="alert(1)')])

    assert "onload" not in svg
    assert 'fill="#417690"' in svg


def test_charts_render_unescaped_in_a_template_because_they_are_already_safe():
    chart = bar_chart(title="A & B", labels=["a"], series=[Series("s", [1])])

    html = Template("{{ chart }}").render(Context({"chart": chart}))

    assert html.startswith("<svg")
    assert "A &amp; B" in html and "&amp;amp;" not in html
