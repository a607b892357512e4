"""Signals conversations.services sends around an assignment, for the apps that route work.

Both are sent synchronously with `sender=Conversation`, inside the service's transaction and
with its actor, so a receiver's audit rows commit or roll back with the change itself.
"""

from django.dispatch import Signal

# Before a conversation is saved with a new assignee (`conversation` already holds its new
# status). Arguments: conversation, assignee, allow_over_capacity. A receiver refuses the
# assignment by raising conversations.services.ConversationError.
assignment_checking = Signal()

# After a change of assignee is saved, or before an assigned conversation is deleted.
# Arguments: conversation, previous_assignee_id, previous_status, deleted.
assignment_changed = Signal()
