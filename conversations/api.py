"""REST API for customers and conversations: thin viewsets over conversations.services.

API tokens need the resource's scope (SPEC §8.2): `customers:read` or `conversations:read`
to read, `customers:write` or `conversations:write` (which include reading) to change;
people need the conversations.work permission. Everything is scoped to the caller's
organisation, so another organisation's id answers 404.
"""

from typing import Any

from django import forms as django_forms
from django.db.models import QuerySet
from django_filters import rest_framework as filters
from rest_framework import serializers, viewsets
from rest_framework.exceptions import ValidationError

from accounts.api_access import ScopeOrPermission
from accounts.authentication import ApiClient
from accounts.models import User
from conversations import services
from conversations.models import Conversation, Customer
from core.api_errors import ApiCursorPagination


class Pagination(ApiCursorPagination):
    ordering = "-id"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def _service_call(function: Any, **kwargs: Any) -> Any:
    try:
        return function(**kwargs)
    except services.ConversationError as problem:
        raise ValidationError({problem.field: [problem.message]}) from None


# Customers ----------------------------------------------------------------------------------


class CustomerSerializer(serializers.ModelSerializer):
    tags = serializers.ListField(
        child=serializers.CharField(max_length=services.MAX_TAG_LENGTH),
        max_length=services.MAX_TAGS,
        required=False,
    )

    class Meta:
        model = Customer
        fields = ["id", "name", "email", "phone", "tags", "created_at"]
        read_only_fields = ["id", "created_at"]


class CustomerFilter(filters.FilterSet):
    email = filters.CharFilter(field_name="email", lookup_expr="iexact")
    name = filters.CharFilter(field_name="name", lookup_expr="icontains")

    class Meta:
        model = Customer
        fields = ["email", "name"]


class CustomerViewSet(viewsets.ModelViewSet):
    serializer_class = CustomerSerializer
    permission_classes = [ScopeOrPermission]
    pagination_class = Pagination
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = CustomerFilter
    lookup_value_regex = r"[0-9]{1,18}"
    read_scope = "customers:read"
    write_scope = "customers:write"
    required_permission = "conversations.work"

    def get_queryset(self) -> QuerySet[Customer]:
        if getattr(self, "swagger_fake_view", False):
            return Customer.all_tenants.none()
        return Customer.objects.all()

    def perform_create(self, serializer: CustomerSerializer) -> None:
        serializer.instance = _service_call(services.customer_create, **serializer.validated_data)

    def perform_update(self, serializer: CustomerSerializer) -> None:
        _service_call(
            services.customer_update, customer=serializer.instance, **serializer.validated_data
        )

    def perform_destroy(self, instance: Customer) -> None:
        services.customer_delete(customer=instance)


# Conversations ------------------------------------------------------------------------------


class ConversationSerializer(serializers.ModelSerializer):
    customer = serializers.PrimaryKeyRelatedField(queryset=Customer.all_tenants.none())
    assigned_to = serializers.PrimaryKeyRelatedField(
        queryset=User.all_tenants.none(), allow_null=True, required=False
    )
    status = serializers.ChoiceField(
        choices=list(Conversation.STATUS_CHOICES), default=Conversation.OPEN
    )
    priority = serializers.ChoiceField(
        choices=list(Conversation.PRIORITY_CHOICES), default="normal"
    )
    tags = serializers.ListField(
        child=serializers.CharField(max_length=services.MAX_TAG_LENGTH),
        max_length=services.MAX_TAGS,
        required=False,
    )

    class Meta:
        model = Conversation
        fields = [
            "id",
            "customer",
            "subject",
            "status",
            "priority",
            "tags",
            "queue",
            "assigned_to",
            "snoozed_until",
            "last_activity_at",
            "created_at",
        ]
        read_only_fields = ["id", "last_activity_at", "created_at"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Scoped per request: another organisation's customer or user id is "does not exist".
        if not getattr(self.context.get("view"), "swagger_fake_view", False):
            self.fields["customer"].queryset = Customer.objects.all()
            self.fields["assigned_to"].queryset = User.objects.filter(is_active=True)


class IdFilter(filters.NumberFilter):
    """A whole-number id (NumberFilter alone would accept 1.5 and round it)."""

    field_class = django_forms.IntegerField


class ConversationFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=list(Conversation.STATUS_CHOICES.items()))
    priority = filters.ChoiceFilter(choices=list(Conversation.PRIORITY_CHOICES.items()))
    queue = filters.CharFilter()
    customer = IdFilter(field_name="customer_id")
    assigned_to = IdFilter(field_name="assigned_to_id")
    unassigned = filters.BooleanFilter(field_name="assigned_to", lookup_expr="isnull")

    class Meta:
        model = Conversation
        fields = ["status", "priority", "queue", "customer", "assigned_to", "unassigned"]


class ConversationViewSet(viewsets.ModelViewSet):
    serializer_class = ConversationSerializer
    permission_classes = [ScopeOrPermission]
    pagination_class = Pagination
    filter_backends = [filters.DjangoFilterBackend]
    filterset_class = ConversationFilter
    lookup_value_regex = r"[0-9]{1,18}"
    read_scope = "conversations:read"
    write_scope = "conversations:write"
    required_permission = "conversations.work"

    def get_queryset(self) -> QuerySet[Conversation]:
        if getattr(self, "swagger_fake_view", False):
            return Conversation.all_tenants.none()
        return Conversation.objects.select_related("customer")

    def _may_exceed_capacity(self) -> bool:
        user = self.request.user
        return not isinstance(user, ApiClient) and user.has_org_perm("routing.manage")

    def perform_create(self, serializer: ConversationSerializer) -> None:
        serializer.instance = _service_call(
            services.conversation_create,
            **serializer.validated_data,
            allow_over_capacity=self._may_exceed_capacity(),
        )

    def perform_update(self, serializer: ConversationSerializer) -> None:
        _service_call(
            services.conversation_update,
            conversation=serializer.instance,
            **serializer.validated_data,
            allow_over_capacity=self._may_exceed_capacity(),
        )

    def perform_destroy(self, instance: Conversation) -> None:
        services.conversation_delete(conversation=instance)
