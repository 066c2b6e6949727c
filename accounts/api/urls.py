from django.urls import path

from accounts.api.token import ScopedTokenObtainPairView, TokenRefreshView, TokenVerifyView
from accounts.api.views import AppTokenDetailView, AppTokenListView

urlpatterns = [
    path("token/", ScopedTokenObtainPairView.as_view(), name="api-token"),
    path("token/refresh/", TokenRefreshView.as_view(), name="api-token-refresh"),
    path("token/verify/", TokenVerifyView.as_view(), name="api-token-verify"),
    path("user/apptoken", AppTokenListView.as_view(), name="api-apptokens"),
    path("user/apptoken/<uuid:token_uuid>", AppTokenDetailView.as_view(), name="api-apptoken"),
]
