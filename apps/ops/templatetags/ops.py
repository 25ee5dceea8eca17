"""Template helpers of the ops pages: a list cell shown by its column's format, sort links,
links to the entity an alert is about, and the signed-in user's role."""

from django import template
from django.urls import reverse
from django.utils.html import format_html

from apps.common.templatetags import fmt as formats
from apps.ops.views.base import value_of

register = template.Library()
ROLES = ("admin", "ops", "back_office", "analyst")


class _Fields:
    """format_map source: "{vehicle_id}" reads the row's key or attribute."""

    def __init__(self, row):
        self.row = row

    def __getitem__(self, key):
        return value_of(self.row, key)


@register.simple_tag
def cell(row, column):
    value = value_of(row, column.key)
    if column.fmt == "text":
        shown = formats.MISSING if value in (None, "") else value
    elif column.fmt == "label":
        shown = formats.label(value)
    elif column.fmt == "fraud_label":  # a payment's label: fraud, not fraud or not labelled
        shown = {True: "Fraud", False: "Not fraud"}.get(value, formats.MISSING)
    else:
        shown = getattr(formats, column.fmt)(value)
    if column.link:
        url = column.link.format_map(_Fields(row))
        if "None" not in url:
            return format_html('<a href="{}">{}</a>', url, shown)
    return shown


@register.simple_tag(takes_context=True)
def sort_link(context, column):
    listing = context["list"]
    current = listing["sort"]
    if not column.sort:
        return column.label
    descending = current == column.key
    target = f"-{column.key}" if descending else column.key
    query = listing["query"]
    params = "&".join(p for p in query.split("&") if p and not p.startswith("sort="))
    arrow = " ↑" if current == column.key else " ↓" if current == f"-{column.key}" else ""
    return format_html('<a href="?{}sort={}">{}{}</a>', f"{params}&" if params else "", target, column.label, arrow)


@register.simple_tag(takes_context=True)
def page_link(context, number):
    query = context["list"]["query"]
    return f"?{query}&page={number}" if query else f"?page={number}"


@register.simple_tag
def entity_url(entity_type, entity_id):
    """Where the thing an alert is about is shown: the ops page when there is one, else the admin."""
    if entity_type == "fleet.vehicle":
        return reverse("ops:vehicle", args=[entity_id])
    if entity_type == "customers.customer":
        return reverse("ops:rental-fraud") + f"?customer={entity_id}"
    if entity_type == "regions.store":
        return reverse("ops:forecast") + f"#store-{entity_id}"
    app_label, _, model = entity_type.partition(".")
    try:
        return reverse(f"admin:{app_label}_{model}_change", args=[entity_id])
    except Exception:
        return ""


@register.filter
def role_of(user) -> str:
    if not getattr(user, "is_authenticated", False):
        return ""
    names = {g.name for g in user.groups.all()}
    for role in ROLES:
        if role in names:
            return role.replace("_", " ")
    return "admin" if user.is_superuser else "staff"


@register.filter
def severity_class(value) -> str:
    return f"sev sev-{value}" if value else ""


@register.simple_tag
def chart_id(prefix, key):
    return f"{prefix}-{key}"


@register.filter
def first_line(text) -> str:
    """A failure's one-line reason (the traceback stays behind the details toggle)."""
    return (text or "").strip().splitlines()[0] if (text or "").strip() else ""


@register.simple_tag
def map_tiles() -> str:
    from django.conf import settings

    return settings.MAP_TILES_URL


@register.simple_tag
def map_tiles_attribution() -> str:
    from django.conf import settings

    return settings.MAP_TILES_ATTRIBUTION


@register.filter
def run_seconds(run):
    """How long a finished run took, in seconds (for the duration filter)."""
    if run.started_at and run.finished_at:
        return (run.finished_at - run.started_at).total_seconds()
    return None


@register.simple_tag
def entity_label(entity_type, entity_id) -> str:
    """"fleet.vehicle", 12 -> "vehicle 12"."""
    return f"{str(entity_type).rpartition('.')[2]} {entity_id}"
