"""Deleting a user unassigns their conversations through the service, so each change is recorded.

Without this, the foreign key's SET NULL would clear `assigned_to` in bulk, unseen by the log.
"""

from typing import Any

from django.db.models.signals import pre_delete
from django.dispatch import receiver

from accounts.models import User
from conversations import services
from conversations.models import Conversation
from core.tenancy import tenant


@receiver(pre_delete, sender=User, dispatch_uid="conversations-unassign-deleted-user")
def _unassign_deleted_user(sender: type[User], instance: User, **kwargs: Any) -> None:
    if instance.org_id is None:
        return
    with tenant(instance.org_id):
        for conversation in Conversation.objects.filter(assigned_to_id=instance.pk).order_by("pk"):
            services.conversation_assign(conversation=conversation, assignee=None)
