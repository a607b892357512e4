"""URLs of the customer and conversation pages, and the close workflow setting."""

from django.urls import path

from conversations import views

app_name = "conversations"

urlpatterns = [
    path("conversations/", views.conversation_list, name="conversations"),
    path("conversations/new/", views.conversation_create, name="conversation_create"),
    path("conversations/<int:pk>/", views.conversation_edit, name="conversation_edit"),
    path("conversations/<int:pk>/delete/", views.conversation_delete, name="conversation_delete"),
    path("customers/", views.customer_list, name="customers"),
    path("customers/new/", views.customer_create, name="customer_create"),
    path("customers/<int:pk>/", views.customer_edit, name="customer_edit"),
    path("customers/<int:pk>/delete/", views.customer_delete, name="customer_delete"),
    path("settings/workflows/", views.workflow_settings, name="workflow_settings"),
]
