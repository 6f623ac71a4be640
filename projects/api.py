"""The API's projects: those the person (or token) may see, by name."""

from django.db.models import Count
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response

from studio.api import READ_ERRORS, ApiView, cursor, errors

from . import access
from .models import Project


class ProjectSerializer(serializers.ModelSerializer):
    run_count = serializers.IntegerField(read_only=True, help_text="How many runs it has")

    class Meta:
        model = Project
        fields = ["id", "name", "created_at", "last_activity_at", "run_count"]


def _projects(request):
    return access.visible_to(request, Project.objects.annotate(run_count=Count("runs")))


@extend_schema(tags=["projects"], responses={200: ProjectSerializer(many=True), **errors(*READ_ERRORS)})
class ProjectList(ApiView, ListAPIView):
    """The projects you may see, by name."""

    serializer_class = ProjectSerializer
    pagination_class = cursor("name")

    def get_queryset(self):
        return _projects(self.request)


@extend_schema(tags=["projects"], responses={200: ProjectSerializer, **errors(*READ_ERRORS)})
class ProjectDetail(ApiView):
    """One project."""

    def get(self, request, pk):
        project = get_object_or_404(_projects(request), pk=pk)
        return Response(ProjectSerializer(project).data)
