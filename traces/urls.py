from django.urls import path

from . import views

urlpatterns = [
    path("traces", views.ingest_traces, name="otlp-traces"),
]
