"""``/api/v1/repository``: create, list, show, describe, delete; visibility and state (Quay's
``repository.py``: same paths, parameters and JSON)."""

from __future__ import annotations

import calendar

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.api.authentication import principal_of
from common.errors import InvalidRequestError
from common.query_params import query_bool
from repositories.access import Action, is_allowed, refusal_reason
from repositories.api.access import repository_for_api
from repositories.api.repos_common import (
    allowed_ignoring_repository_state,
    format_date,
    page_after,
    page_token,
    repository_for_management,
    request_info,
)
from repositories.api.repos_serializers import (
    DescriptionSerializer,
    RepositoryCreatedSerializer,
    RepositoryCreateSerializer,
    RepositoryDetailSerializer,
    RepositoryListSerializer,
    StateSerializer,
    SuccessSerializer,
    VisibilitySerializer,
)
from repositories.models import Repository
from repositories.selectors_api import TagView, repository_is_starred, repository_list, repository_live_tags
from repositories.services.repositories import (
    repository_change_description,
    repository_change_state,
    repository_change_visibility,
    repository_create,
    repository_delete,
)

REPO_PATH = OpenApiParameter("repository", OpenApiTypes.STR, OpenApiParameter.PATH, description="The full path of the repository, e.g. namespace/name")
_NO_CONTENT = OpenApiResponse(description="deleted")
#: Quay's REPOS_PER_PAGE
PAGE_SIZE = 100


def _list_item(repository: Repository, *, last_modified: bool) -> dict:
    item = {
        "namespace": repository.namespace.name,
        "name": repository.name,
        "description": repository.description,
        "is_public": repository.visibility == Repository.Visibility.PUBLIC,
        "kind": "image",
        "state": repository.state,
        "is_starred": bool(getattr(repository, "is_starred", False)),
    }
    if last_modified:
        item["last_modified"] = calendar.timegm(repository.last_modified.utctimetuple())
    return item


def _tag_item(view: TagView) -> dict:
    item = {
        "name": view.tag.name,
        "size": view.size,
        "last_modified": format_date(view.tag.lifetime_start),
        "manifest_digest": view.tag.manifest.digest,
    }
    if view.tag.expires_at is not None:
        item["expiration"] = format_date(view.tag.expires_at)
    return item


class RepositoryListView(APIView):
    permission_classes = [AllowAny]  # anonymous callers list public repositories; POST checks itself

    @extend_schema(
        operation_id="listRepos",
        summary="List the repositories you may read",
        parameters=[
            OpenApiParameter("namespace", str, description="Only this namespace"),
            OpenApiParameter("public", bool, description="Also repositories readable only because they are public"),
            OpenApiParameter("starred", bool, description="Only repositories you starred"),
            OpenApiParameter("last_modified", bool, description="Include last_modified (Unix time)"),
            OpenApiParameter("popularity", bool, description="Accepted for Quay compatibility; ignored"),
            OpenApiParameter("repo_kind", str, description="Only 'image' exists here"),
            OpenApiParameter("next_page", str, description="The next_page token of the previous page"),
        ],
        responses=RepositoryListSerializer,
        examples=[
            OpenApiExample(
                "A page",
                value={
                    "repositories": [
                        {"namespace": "acme", "name": "web", "description": "", "is_public": False, "kind": "image", "state": "NORMAL", "is_starred": True}
                    ],
                    "next_page": "eyJhZnRlciI6ImFjbWUvd2ViIn0:1tX...",
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request) -> Response:
        principal = principal_of(request)
        if not principal.has_api_scope("repo:read"):
            raise PermissionDenied("this token lacks the repo:read scope")
        params = request.query_params
        namespace, public, starred = params.get("namespace", ""), query_bool(params, "public"), query_bool(params, "starred")
        last_modified = query_bool(params, "last_modified")
        query_bool(params, "popularity")  # ignored, but a non-boolean is still a client error
        if not (namespace or public or starred):
            raise InvalidRequestError("namespace, starred or public are required for this API call")
        if starred and principal.kind != "user":
            raise InvalidRequestError("starred needs a signed-in user")
        repo_kind = params.get("repo_kind", "image") or "image"
        if repo_kind != "image":
            return Response({"repositories": []})
        page = repository_list(
            principal=principal, namespace=namespace or None, public=public, starred=starred,
            after=page_after(params.get("next_page")), limit=PAGE_SIZE,
        )
        body: dict = {"repositories": [_list_item(r, last_modified=last_modified) for r in page.repositories]}
        if page.next_after is not None:
            body["next_page"] = page_token(page.next_after)
        return Response(body)

    @extend_schema(
        operation_id="createRepo",
        summary="Create a repository",
        request=RepositoryCreateSerializer,
        responses={201: RepositoryCreatedSerializer},
        examples=[
            OpenApiExample(
                "New private repository",
                value={"namespace": "acme", "repository": "web", "visibility": "private", "description": "The web front end"},
                request_only=True,
            ),
            OpenApiExample("Created", value={"namespace": "acme", "name": "web", "kind": "image"}, response_only=True, status_codes=["201"]),
        ],
    )
    def post(self, request: Request) -> Response:
        principal = principal_of(request)
        if principal.is_anonymous:
            raise NotAuthenticated()
        data = _valid(RepositoryCreateSerializer, request)
        namespace = data.get("namespace") or (principal.name if principal.kind == "user" else "")
        if not namespace:
            raise InvalidRequestError("namespace is required", detail={"namespace": "robots must name the namespace"})
        if not principal.has_api_scope("repo:create"):
            raise PermissionDenied("this token lacks the repo:create scope")
        if not is_allowed(principal, Action.PUSH, None, name=f"{namespace}/{data['repository']}"):
            raise PermissionDenied(refusal_reason(Action.PUSH, None, principal))
        repository = repository_create(
            namespace_name=namespace, name=data["repository"], creator=principal, visibility=data["visibility"],
            description=data["description"], request=request_info(request),
        )
        return Response({"namespace": namespace, "name": repository.name, "kind": "image"}, status=status.HTTP_201_CREATED)


def _valid(serializer_class: type, request: Request) -> dict:
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class RepositoryDetailView(APIView):
    permission_classes = [AllowAny]  # public repositories are readable anonymously; each method checks

    @extend_schema(
        operation_id="getRepo",
        summary="Show a repository",
        parameters=[REPO_PATH, OpenApiParameter("includeTags", bool, description="Include the live tags (default true)"),
                    OpenApiParameter("includeStats", bool, description="Accepted for Quay compatibility; ignored")],
        responses=RepositoryDetailSerializer,
        examples=[
            OpenApiExample(
                "A repository",
                value={
                    "namespace": "acme", "name": "web", "kind": "image", "description": "", "is_public": False, "is_organization": True,
                    "is_starred": False, "status_token": "", "trust_enabled": False, "tag_expiration_s": 1209600, "is_free_account": True,
                    "state": "NORMAL", "can_write": True, "can_admin": False,
                    "tags": {"latest": {"name": "latest", "size": 2811478, "last_modified": "Tue, 04 Mar 2025 10:20:30 -0000",
                                        "manifest_digest": "sha256:5b0b…"}},
                },
                response_only=True,
            )
        ],
    )
    def get(self, request: Request, repository: str) -> Response:
        repo = repository_for_api(request, repository, Action.PULL)
        principal = principal_of(request)
        body = {
            "namespace": repo.namespace.name,
            "name": repo.name,
            "kind": "image",
            "description": repo.description,
            "is_public": repo.visibility == Repository.Visibility.PUBLIC,
            "is_organization": repo.namespace.kind == repo.namespace.Kind.ORGANIZATION,
            "is_starred": repository_is_starred(principal=principal, repository=repo),
            "status_token": "",
            "trust_enabled": False,
            "tag_expiration_s": repo.namespace.tag_expiration_s,
            "is_free_account": True,
            "state": repo.state,
            "can_write": principal.has_api_scope("repo:write") and is_allowed(principal, Action.PUSH, repo),
            "can_admin": allowed_ignoring_repository_state(request, Action.ADMIN, repo),
        }
        query_bool(request.query_params, "includeStats")  # ignored, but a non-boolean is still a client error
        if query_bool(request.query_params, "includeTags", default=True):
            body["tags"] = {view.tag.name: _tag_item(view) for view in repository_live_tags(repository=repo)}
        return Response(body)

    @extend_schema(
        operation_id="updateRepo",
        summary="Change the description",
        parameters=[REPO_PATH],
        request=DescriptionSerializer,
        responses=SuccessSerializer,
        examples=[OpenApiExample("Description", value={"description": "The **web** front end"}, request_only=True)],
    )
    def put(self, request: Request, repository: str) -> Response:
        _authenticated(request)
        repo = repository_for_management(request, repository, Action.DELETE)  # the write role
        data = _valid(DescriptionSerializer, request)
        repository_change_description(repository=repo, description=data["description"], actor=principal_of(request), request=request_info(request))
        return Response({"success": True})

    @extend_schema(
        operation_id="deleteRepository", summary="Delete a repository (admin)", parameters=[REPO_PATH], request=None, responses={204: _NO_CONTENT})
    def delete(self, request: Request, repository: str) -> Response:
        _authenticated(request)
        repo = repository_for_management(request, repository, Action.ADMIN)
        repository_delete(repository=repo, actor=principal_of(request), request=request_info(request))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _authenticated(request: Request) -> None:
    if principal_of(request).is_anonymous:
        raise NotAuthenticated()


class RepositoryVisibilityView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="changeRepoVisibility",
        summary="Make a repository public or private (admin)",
        parameters=[REPO_PATH],
        request=VisibilitySerializer,
        responses=SuccessSerializer,
        examples=[OpenApiExample("Make public", value={"visibility": "public"}, request_only=True)],
    )
    def post(self, request: Request, repository: str) -> Response:
        repo = repository_for_management(request, repository, Action.ADMIN)
        data = _valid(VisibilitySerializer, request)
        repository_change_visibility(repository=repo, visibility=data["visibility"], actor=principal_of(request), request=request_info(request))
        return Response({"success": True})


class RepositoryStateView(APIView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="changeRepoState",
        summary="Set the repository state: NORMAL, READ_ONLY or MIRROR (admin)",
        parameters=[REPO_PATH],
        request=StateSerializer,
        responses=SuccessSerializer,
        examples=[OpenApiExample("Freeze", value={"state": "READ_ONLY"}, request_only=True)],
    )
    def put(self, request: Request, repository: str) -> Response:
        repo = repository_for_management(request, repository, Action.ADMIN)
        data = _valid(StateSerializer, request)
        repository_change_state(repository=repo, state=data["state"], actor=principal_of(request), request=request_info(request))
        return Response({"success": True})
