"""A minimal token-authenticated endpoint used only by tests of the recorder's API actor."""

from django.shortcuts import get_object_or_404
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import RoleGroup
from accounts.services import role_group_update


class RenameRoleGroup(APIView):
    def post(self, request, pk: int) -> Response:
        group = get_object_or_404(RoleGroup.objects, pk=pk)
        role_group_update(group=group, name=request.data["name"])
        return Response({"id": group.pk, "name": group.name})


urlpatterns = [path("test-api/role-groups/<int:pk>/", RenameRoleGroup.as_view())]
