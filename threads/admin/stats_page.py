"""The statistics page of the admin: numbers and server-side SVG charts for a period."""

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils.text import capfirst

from .. import charts, stats
from .display import EMPTY, PRICE_CHECK_ACTIONS, count_by_reason, format_ms, format_usd

STATS_PERIODS = (7, 14, 30)
# Below this many dollars on the busiest day the cost chart counts cents: the grid shows one decimal.
CENTS_BELOW_USD = 10


class StatsPeriodForm(forms.Form):
    days = forms.TypedChoiceField(choices=[(d, f"{d} days") for d in STATS_PERIODS], coerce=int, initial=14)


def stats_view(request: HttpRequest) -> TemplateResponse:
    """Show the statistics page (wrap with `admin.site.admin_view`: staff only)."""
    if not request.user.has_perm("threads.view_oathreadmap"):
        raise PermissionDenied
    form = StatsPeriodForm(request.GET or None)
    days = form.cleaned_data["days"] if form.is_valid() else 14
    dashboard = stats.get_dashboard_stats(days=days)
    handoffs = stats.get_handoff_stats(days=days)
    context = {
        **admin.site.each_context(request),
        "title": "Brenda statistics",
        "form": form,
        "days": days,
        "periods": STATS_PERIODS,
        "stats": dashboard,
        "shown": _shown_values(dashboard),
        "charts": _stats_charts(dashboard),
        "handoffs": handoffs,
        "handoff_reply_p50": format_duration_s(handoffs.first_reply_p50_s),
        "handoff_reply_p95": format_duration_s(handoffs.first_reply_p95_s),
    }
    return TemplateResponse(request, "admin/threads/stats.html", context)


def format_duration_s(seconds: int | None) -> str:
    """Show a wait as staff say it: "45 s", "12 min", "3 h 05 min"; "—" when there is none."""
    if seconds is None:
        return EMPTY
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def _shown_values(dashboard: stats.DashboardStats) -> dict:
    """Format money, latency and reasons as the turn admin and the transcript do (templates get strings)."""
    checks = dashboard.price_checks
    return {
        "cost": format_usd(dashboard.cost_usd),
        "cost_p50": format_usd(dashboard.cost_per_turn_p50_usd),
        "cost_p95": format_usd(dashboard.cost_per_turn_p95_usd),
        "latency_p50": format_ms(dashboard.latency_p50_ms),
        "latency_p95": format_ms(dashboard.latency_p95_ms),
        "top_users": [(user, format_usd(user.cost_usd)) for user in dashboard.top_users],
        "tools": [(tool, format_ms(tool.avg_ms)) for tool in dashboard.tool_usage],
        "limited_by_reason": count_by_reason(dashboard.limited_by_reason),
        "fallback_by_reason": count_by_reason(dashboard.fallback_by_reason),
        # (element id, label, count): the actions worded as on a turn's page and in the transcript.
        "price_checks": [
            ("stat-price-checked", "Turns with checked replies", checks.replies_checked),
            ("stat-price-wrong", "Wrong amounts found", checks.wrong_amounts),
            ("stat-price-asked-again", capfirst(PRICE_CHECK_ACTIONS["asked_again"]), checks.asked_again),
            ("stat-price-corrected", capfirst(PRICE_CHECK_ACTIONS["corrected"]), checks.corrected),
            ("stat-price-removed", capfirst(PRICE_CHECK_ACTIONS["removed"]), checks.removed),
            ("stat-price-replaced", capfirst(PRICE_CHECK_ACTIONS["replaced"]), checks.replaced),
        ],
    }


def _stats_charts(dashboard: stats.DashboardStats) -> dict[str, str]:
    labels = [day.day.strftime("%b %d") for day in dashboard.per_day]
    return {
        "messages": charts.bar_chart(
            title="Messages per day",
            labels=labels,
            series=[
                charts.Series("Inbound", [d.messages_in for d in dashboard.per_day]),
                charts.Series("Outbound", [d.messages_out for d in dashboard.per_day]),
            ],
        ),
        "turns": charts.bar_chart(
            title="Turns per day",
            labels=labels,
            series=[charts.Series("Turns", [d.turns for d in dashboard.per_day], color="#5b9a68")],
        ),
        "latency": charts.line_chart(
            title="Turn latency per day (ms)",
            labels=labels,
            series=[
                charts.Series("p50", [d.latency_p50_ms for d in dashboard.per_day]),
                charts.Series("p95", [d.latency_p95_ms for d in dashboard.per_day]),
            ],
            unit=" ms",
        ),
        "cost": _cost_chart(dashboard, labels),
        "tools": charts.horizontal_bar_chart(
            title="Tool calls", items=[(tool.name, tool.calls) for tool in dashboard.tool_usage]
        ),
    }


def _cost_chart(dashboard: stats.DashboardStats, labels: list[str]) -> str:
    """Draw the cost per day in dollars, or in cents for small spends (the chart's labels keep one decimal)."""
    costs = [float(day.cost_usd) for day in dashboard.per_day]
    in_cents = max(costs, default=0) < CENTS_BELOW_USD
    title, unit, scale = ("Cost per day (US cents)", " ¢", 100) if in_cents else ("Cost per day (USD)", " USD", 1)
    return charts.bar_chart(
        title=title,
        labels=labels,
        series=[charts.Series("Cost", [cost * scale for cost in costs], color="#a05195")],
        unit=unit,
    )
