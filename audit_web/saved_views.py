"""Saved views of the Audit Log (SPEC §8.5): named search-language queries, one person's or
shared with every Administrator. The page's menu (save, open, delete) and
`/api/v1/saved-views/` (`{id, name, query, shared}`). Creating, changing and deleting one
is an audited Settings change (settings_app/audit.py: kind `saved_view`)."""

from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api_access import ScopeOrPermission
from accounts.decorators import org_permission_required
from accounts.models import User
from audit_read import query as language
from audit_read.presentation import AUDIT_LOG_URL
from core.api_errors import BadParameters
from settings_app import services
from settings_app.models import SavedView

_MAX_ID = 2**63 - 1


def visible_views(user: Any) -> QuerySet[SavedView]:
    """The organisation's shared views and, for a person, their own."""
    views = SavedView.objects.order_by("name", "id")
    if isinstance(user, User):
        return views.filter(Q(shared=True) | Q(owner_id=user.pk))
    return views.filter(shared=True)


def _check_query(org: Any, text: str) -> None:
    try:
        language.compile_query(org, text)
    except language.QueryError as problem:
        raise ValidationError({"query": problem.message}) from None


def open_url(view: SavedView) -> str:
    return f"{AUDIT_LOG_URL}?{urlencode({'q': view.query, 'view': view.pk})}"


# --------------------------------------------------------------------------- the page's menu


@org_permission_required("audit.view")
@require_POST
def saved_view_save(request: HttpRequest) -> HttpResponse:
    """Save the page's filters (sent as `query`) under a name."""
    org = request.user.org
    text = request.POST.get("query", "")
    try:
        _check_query(org, text)
        view = services.saved_view_create(
            name=request.POST.get("name", ""),
            query=text,
            shared=request.POST.get("shared") == "on",
            owner=request.user,
        )
    except ValidationError as problem:
        messages.error(request, "Could not save the view: " + " ".join(problem.messages))
        return redirect(f"{AUDIT_LOG_URL}?{urlencode({'q': text})}")
    messages.success(request, f"Saved the view “{view.name}”.")
    return redirect(open_url(view))


@org_permission_required("audit.view")
@require_POST
def saved_view_remove(request: HttpRequest, pk: int) -> HttpResponse:
    if pk > _MAX_ID:
        raise Http404("No such view.")
    view = visible_views(request.user).filter(pk=pk).first()
    if view is None:
        raise Http404("No such view.")
    name = view.name
    services.saved_view_delete(view=view)
    messages.success(request, f"Deleted the view “{name}”.")
    return redirect(AUDIT_LOG_URL)


# --------------------------------------------------------------------------- the API


class SavedViewSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=200)
    query = serializers.CharField(
        max_length=services.SAVED_VIEW_QUERY_MAX,
        help_text="The search language of `q`, e.g. `type:settings -actor_type:system`.",
    )
    shared = serializers.BooleanField(
        default=False, help_text="Visible to every Administrator (always, for a token's view)."
    )


def _bad(problem: ValidationError) -> BadParameters:
    if hasattr(problem, "message_dict"):
        return BadParameters({name: " ".join(m) for name, m in problem.message_dict.items()})
    return BadParameters({"non_field_errors": " ".join(problem.messages)})


class _SavedViewApi(APIView):
    permission_classes = [ScopeOrPermission]
    required_scope = "audit:read"
    required_permission = "audit.view"

    def _valid(self, request: Request, *, partial: bool = False) -> dict[str, Any]:
        serializer = SavedViewSerializer(data=request.data, partial=partial)
        if not serializer.is_valid():
            raise BadParameters(
                {
                    name: " ".join(str(m) for m in problems)
                    for name, problems in serializer.errors.items()
                }
            )
        data = dict(serializer.validated_data)
        if "query" in data:
            try:
                _check_query(request.user.org, data["query"])
            except ValidationError as problem:
                raise _bad(problem) from None
        return data


class SavedViewListView(_SavedViewApi):
    @extend_schema(
        operation_id="saved_views_list",
        responses=inline_serializer(
            name="SavedViewList", fields={"results": SavedViewSerializer(many=True)}
        ),
    )
    def get(self, request: Request) -> Response:
        views = visible_views(request.user)[:500]
        return Response({"results": SavedViewSerializer(views, many=True).data})

    @extend_schema(
        operation_id="saved_views_create",
        request=SavedViewSerializer,
        responses={201: SavedViewSerializer},
    )
    def post(self, request: Request) -> Response:
        data = self._valid(request)
        owner = request.user if isinstance(request.user, User) else None
        try:
            view = services.saved_view_create(owner=owner, **data)
        except ValidationError as problem:
            raise _bad(problem) from None
        return Response(SavedViewSerializer(view).data, status=status.HTTP_201_CREATED)


class SavedViewDetailView(_SavedViewApi):
    def _view(self, request: Request, pk: int) -> SavedView:
        if pk > _MAX_ID:
            raise Http404("No such view.")
        view = visible_views(request.user).filter(pk=pk).first()
        if view is None:
            raise Http404("No such view.")
        return view

    @extend_schema(operation_id="saved_views_retrieve", responses=SavedViewSerializer)
    def get(self, request: Request, pk: int) -> Response:
        return Response(SavedViewSerializer(self._view(request, pk)).data)

    @extend_schema(
        operation_id="saved_views_partial_update",
        request=SavedViewSerializer,
        responses=SavedViewSerializer,
    )
    def patch(self, request: Request, pk: int) -> Response:
        view = self._view(request, pk)
        data = self._valid(request, partial=True)
        try:
            view = services.saved_view_update(view=view, **data)
        except ValidationError as problem:
            raise _bad(problem) from None
        return Response(SavedViewSerializer(view).data)

    @extend_schema(operation_id="saved_views_destroy", responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        services.saved_view_delete(view=self._view(request, pk))
        return Response(status=status.HTTP_204_NO_CONTENT)
