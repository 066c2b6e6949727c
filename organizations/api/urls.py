from django.urls import path

from organizations.api.users import CurrentUserView

urlpatterns = [
    path("user/", CurrentUserView.as_view(), name="api-user"),
]
