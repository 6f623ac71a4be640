"""The Django admin: every model is there, and its lists open with data in them."""

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from tests.factories import replay_capture

pytestmark = pytest.mark.django_db
OUR_APPS = ("projects", "runs", "traces")


def test_every_model_of_our_apps_is_registered():
    models = [model for app in OUR_APPS for model in apps.get_app_config(app).get_models()]
    assert {model.__name__ for model in models} >= {
        "Project",
        "Run",
        "Reply",
        "Message",
        "InputRequest",
        "Span",
        "Trace",
        "ModelPrice",
    }
    assert [model.__name__ for model in models if not admin.site.is_registered(model)] == []


def test_every_change_list_and_change_page_opens_for_a_staff_user(admin_client):
    replay_capture(admin_client)
    for app in OUR_APPS:
        for model in apps.get_app_config(app).get_models():
            meta = model._meta
            changelist = reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")
            assert admin_client.get(changelist).status_code == 200, changelist
            assert admin_client.get(changelist + "?q=Friday").status_code == 200, changelist
            first = model.objects.first()
            if first is not None:
                change = reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[first.pk])
                assert admin_client.get(change).status_code == 200, change


def test_json_the_database_would_refuse_is_refused_by_the_admin_form(admin_client):
    from runs.models import Message

    replay_capture(admin_client)
    message = Message.objects.exclude(metadata=None).first() or Message.objects.first()
    change = reverse("admin:runs_message_change", args=[message.pk])
    form = {
        "run": message.run_id,
        "reply": message.reply_id,
        "msg_id": message.msg_id,
        "name": message.name,
        "role": message.role,
        "content": '[{"type": "text", "text": "hi"}]',
        "metadata": '{"score": NaN}',
        "client_timestamp": message.client_timestamp,
        "created_at_0": "2026-12-02",
        "created_at_1": "10:00:00",
        "updated_at_0": "2026-12-02",
        "updated_at_1": "10:00:00",
    }
    response = admin_client.post(change, form)
    assert response.status_code == 200 and "NaN and Infinity are not JSON" in response.content.decode()
    form["metadata"] = '{"score": 0.5}'
    assert admin_client.post(change, form).status_code == 302
    message.refresh_from_db()
    assert message.metadata == {"score": 0.5} and message.content == [{"type": "text", "text": "hi"}]
