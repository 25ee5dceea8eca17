"""Smoke tests over every ModelAdmin registered on the site, whoever wrote it."""

import pytest
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.common.test_factories import FACTORIES

REGISTRY = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)
MODELS = [model for model, _ in REGISTRY]
FACTORY_FOR = {factory._meta.model: factory for factory in FACTORIES}
WITH_FACTORY = [model for model in MODELS if model in FACTORY_FOR]
# Models the back office does not see in the admin at all: who may do what with roles is the
# admin role's business.
NOT_FOR_BACK_OFFICE = {"auth.Group"}


def label(model) -> str:
    return model._meta.label


def url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


class _Request:
    """Just enough of a request for ModelAdmin.has_*_permission."""

    def __init__(self, user):
        self.user = user


@pytest.fixture
def back_office(role_user):
    return role_user("back_office")


@pytest.fixture
def analyst(role_user):
    return role_user("analyst")


@pytest.mark.django_db
def test_back_office_sees_every_registered_model_but_role_management(back_office):
    hidden = {label(m) for m, ma in REGISTRY if not ma.has_view_or_change_permission(_Request(back_office))}
    assert hidden == NOT_FOR_BACK_OFFICE


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS, ids=label)
def test_changelist_and_add_page_render_for_back_office(client, back_office, model):
    model_admin = admin.site._registry[model]
    client.force_login(back_office)
    can_view = model_admin.has_view_or_change_permission(_Request(back_office))
    can_add = model_admin.has_add_permission(_Request(back_office))

    assert client.get(url(model, "changelist")).status_code == (200 if can_view else 403)
    assert client.get(url(model, "add")).status_code == (200 if can_add else 403)
    if can_view and model_admin.get_search_fields(None):
        # Every search field takes free text without a server error.
        assert client.get(url(model, "changelist"), {"q": "Berlin 42"}).status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("model", WITH_FACTORY, ids=label)
def test_change_page_renders_for_back_office(client, back_office, model):
    obj = FACTORY_FOR[model]()
    client.force_login(back_office)
    expected = 200 if admin.site._registry[model].has_view_or_change_permission(_Request(back_office)) else 403
    assert client.get(url(model, "change", obj.pk)).status_code == expected


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS, ids=label)
def test_anonymous_is_sent_to_login(client, model):
    for view in ("changelist", "add"):
        target = url(model, view)
        response = client.get(target)
        assert response.status_code == 302
        assert response["Location"] == f"{reverse('admin:login')}?next={target}"


@pytest.mark.django_db
@pytest.mark.parametrize("model", MODELS, ids=label)
def test_analyst_reads_but_cannot_add_or_change(client, analyst, model):
    model_admin = admin.site._registry[model]
    request = _Request(analyst)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request)
    assert not model_admin.has_delete_permission(request)
    client.force_login(analyst)
    expected = 403 if label(model) in NOT_FOR_BACK_OFFICE else 200
    assert client.get(url(model, "changelist")).status_code == expected
    assert client.get(url(model, "add")).status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("model", WITH_FACTORY, ids=label)
def test_analyst_change_page_is_read_only(client, analyst, model):
    obj = FACTORY_FOR[model]()
    client.force_login(analyst)
    response = client.get(url(model, "change", obj.pk))
    assert response.status_code == 200
    assert b'name="_save"' not in response.content
    before = model.objects.filter(pk=obj.pk).values().get()
    assert client.post(url(model, "change", obj.pk), {}).status_code == 403
    assert model.objects.filter(pk=obj.pk).values().get() == before


@pytest.mark.django_db
@pytest.mark.parametrize("model", WITH_FACTORY, ids=label)
def test_changelist_queries_do_not_grow_with_rows(client, back_office, model, django_assert_max_num_queries):
    factory = FACTORY_FOR[model]
    factory.create_batch(2)
    client.force_login(back_office)
    with CaptureQueriesContext(connection) as few_rows:
        assert client.get(url(model, "changelist")).status_code == 200
    factory.create_batch(30)
    with django_assert_max_num_queries(len(few_rows.captured_queries)):
        response = client.get(url(model, "changelist"))
    assert response.status_code == 200
