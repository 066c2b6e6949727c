"""``/api/v1/user/starred``: the signed-in user's starred repositories (Quay's shape)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import principal_of
from accounts.models import User
from common.errors import InvalidRequestError
from repositories.access import Action
from repositories.api.access import repository_for_api
from repositories.api.repos_common import page_after, page_token
from repositories.api.repos_serializers import StarCreatedSerializer, StarCreateSerializer, StarredRepositoryListSerializer
from repositories.api.repositories import REPO_PATH
from repositories.models import Repository
from repositories.selectors_api import starred_repository_list
from repositories.services.repositories import star_add, star_remove


class IsStarringUser(BasePermission):
    """Stars belong to users: robots and anonymous callers have none. Needs the repo:read scope."""

    message = "stars belong to signed-in users"

    def has_permission(self, request, view) -> bool:
        principal = principal_of(request)
        return principal.kind == "user" and principal.has_api_scope("repo:read")


def _user(request: Request) -> User:
    user = request.user
    if not isinstance(user, User):  # IsStarringUser lets only users through
        raise PermissionDenied(IsStarringUser.message)
    return user


class StarredRepositoryListView(APIView):
    permission_classes = [IsStarringUser]

    @extend_schema(
        operation_id="listStarredRepos",
        summary="Your starred repositories",
        parameters=[OpenApiParameter("next_page", str, description="The next_page token of the previous page")],
        responses=StarredRepositoryListSerializer,
    )
    def get(self, request: Request) -> Response:
        page = starred_repository_list(principal=principal_of(request), after=page_after(request.query_params.get("next_page")))
        body: dict = {
            "repositories": [
                {
                    "namespace": repository.namespace.name,
                    "name": repository.name,
                    "description": repository.description,
                    "is_public": repository.visibility == Repository.Visibility.PUBLIC,
                }
                for repository in page.repositories
            ]
        }
        if page.next_after is not None:
            body["next_page"] = page_token(page.next_after)
        return Response(body)

    @extend_schema(
        operation_id="createStar",
        summary="Star a repository",
        request=StarCreateSerializer,
        responses={201: StarCreatedSerializer},
        examples=[OpenApiExample("Star", value={"namespace": "acme", "repository": "web"}, request_only=True)],
    )
    def post(self, request: Request) -> Response:
        serializer = StarCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        namespace, name = serializer.validated_data["namespace"], serializer.validated_data["repository"]
        if "/" in namespace:
            raise InvalidRequestError("namespace may not contain '/'", detail={"namespace": namespace})
        repository = repository_for_api(request, f"{namespace}/{name}", Action.PULL)
        star_add(user=_user(request), repository=repository)
        return Response({"namespace": namespace, "repository": name}, status=status.HTTP_201_CREATED)


class StarredRepositoryView(APIView):
    permission_classes = [IsStarringUser]

    @extend_schema(
        operation_id="deleteStar", summary="Remove a star", parameters=[REPO_PATH], request=None, responses={204: OpenApiResponse(description="unstarred")})
    def delete(self, request: Request, repository: str) -> Response:
        # A star on a repository that has since become unreadable can still be removed.
        if not star_remove(user=_user(request), full_name=repository):
            repository_for_api(request, repository, Action.PULL)  # 404 unless readable (then: not starred, fine)
        return Response(status=status.HTTP_204_NO_CONTENT)
