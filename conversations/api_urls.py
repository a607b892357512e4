"""Routes of the customer and conversation API, included under /api/v1/."""

from rest_framework.routers import SimpleRouter

from conversations.api import ConversationViewSet, CustomerViewSet

router = SimpleRouter()
router.register("customers", CustomerViewSet, basename="customer")
router.register("conversations", ConversationViewSet, basename="conversation")

urlpatterns = router.urls
