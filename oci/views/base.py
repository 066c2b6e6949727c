"""The base of every /v2 view: authenticate, resolve and authorize, handle, render errors."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, UnreadablePostError
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from common.errors import (
    DeniedError,
    InvalidRequestError,
    MethodNotAllowedError,
    NameUnknownError,
    RegistryError,
    RequestBodyTimeoutError,
    UnauthorizedError,
    UnavailableError,
)
from common.grammar import validate_repository_name
from oci.auth import bearer_challenge, principal_from_request, request_info
from oci.responses import API_VERSION_HEADER, error_response
from repositories.access import Action, Principal, is_allowed, state_refuses
from repositories.models import Repository
from repositories.lookup_cache import repository_find_cached
from repositories.selectors import repository_find
from repositories.services.audit import audit_log
from repositories.services.repositories import repository_get_or_create
from storagebackends.base import StorageError

logger = logging.getLogger("moorage.oci")


@method_decorator(csrf_exempt, name="dispatch")
class RegistryView(View):
    """Subclasses implement ``get``/``head``/``put``/... and raise RegistryError on failure."""

    http_method_names = ["get", "head", "post", "put", "patch", "delete", "options"]

    def dispatch(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        head = request.method == "HEAD"
        try:
            request.principal = principal_from_request(request)  # type: ignore[attr-defined]
            handler = getattr(self, request.method.lower(), None) if request.method.lower() in self.http_method_names else None
            if handler is None or request.method == "OPTIONS":
                raise MethodNotAllowedError(detail={"method": request.method[:20]})
            response = handler(request, *args, **kwargs)
        except RegistryError as error:
            response = self.render_error(request, error, head)
        except UnreadablePostError as exc:  # the client stalled or went away mid-body (gunicorn_conf.py)
            logger.info("request body not received on %s %s: %s", request.method, request.path, exc)
            response = error_response(RequestBodyTimeoutError(str(exc)), head=head)
        except StorageError as exc:
            logger.warning("storage error on %s %s: %s", request.method, request.path, exc)
            response = error_response(UnavailableError("storage is temporarily unavailable"), head=head)
        except (OperationalError, InterfaceError) as exc:
            logger.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
            response = error_response(UnavailableError("database is temporarily unavailable"), head=head)
        except (RedisConnectionError, RedisTimeoutError) as exc:  # the cache (Redis) is down or restarting
            logger.warning("cache unavailable on %s %s: %s", request.method, request.path, exc)
            response = error_response(UnavailableError("cache is temporarily unavailable"), head=head)
        except DatabaseError:
            logger.exception("database error on %s %s", request.method, request.path)
            response = error_response(UnavailableError("database error"), head=head)
        except Exception:  # never a stack trace in a response
            logger.exception("unhandled error on %s %s", request.method, request.path)
            response = error_response(RegistryError("internal server error"), head=head)
        response[API_VERSION_HEADER[0]] = API_VERSION_HEADER[1]
        if response.status_code == 405 and not response.has_header("Allow"):
            response["Allow"] = self.allowed_methods()  # RFC 9110: a 405 lists what is allowed
        return response

    def render_error(self, request: HttpRequest, error: RegistryError, head: bool) -> HttpResponse:
        return error_response(error, head=head)

    def allowed_methods(self) -> str:
        """The ``Allow`` header a 405 must carry (RFC 9110): the methods this view handles."""
        return ", ".join(m.upper() for m in self.http_method_names if m != "options" and hasattr(self, m))

    # -- helpers for handlers ------------------------------------------------------------------
    @staticmethod
    def principal(request: HttpRequest) -> Principal:
        return request.principal  # type: ignore[attr-defined,no-any-return]

    def authorize(self, request: HttpRequest, action: Action, repository: Repository | None, name: str, extra_scopes: tuple[str, ...] = ()) -> None:
        """Raise 401 (with the Bearer challenge naming the scope this request needs), or 403
        DENIED (a token lacking the scope also gets the challenge, so the client can ask again)."""
        principal = self.principal(request)
        if is_allowed(principal, action, repository, name=name):
            return
        registry_reason = state_refuses(action, None, principal)
        if registry_reason:
            raise DeniedError(registry_reason)
        # A repository's state is told only to callers who may read it: anyone else must learn
        # nothing about a private repository, not even that it exists.
        reason = state_refuses(action, repository, principal, name=name)
        if reason and is_allowed(principal, Action.PULL, repository, name=name):
            raise DeniedError(reason)
        scope = " ".join((scope_for(action, name), *extra_scopes))
        if principal.is_anonymous:
            raise UnauthorizedError(headers=bearer_challenge(request, scope))
        headers = bearer_challenge(request, scope) if principal.grants is not None else {}
        raise DeniedError(headers=headers)

    def repository_for_read(self, request: HttpRequest, name: str, action: Action = Action.PULL, found: Repository | None = None) -> Repository:
        """``found``: the repository a view already read from the lookup cache (still authorized here)."""
        validate_repository_name(name)
        repository = found if found is not None else repository_find_cached(name=name)  # no query when warm (invalidated on write)
        self.authorize(request, action, repository, name)
        if repository is None:
            raise NameUnknownError(detail={"name": name})
        return repository

    def repository_for_push(self, request: HttpRequest, name: str, extra_scopes: tuple[str, ...] = ()) -> Repository:
        """The repository to write to, created on first push when the caller may create it."""
        validate_repository_name(name)
        repository = repository_find(name=name)
        self.authorize(request, Action.PUSH, repository, name, extra_scopes)
        if repository is None:
            repository = repository_get_or_create(name=name, creator=self.principal(request))
            audit_log(kind="create_repo", principal=self.principal(request), repository=repository, request=request_info(request))
        return repository


def scope_for(action: Action, name: str) -> str:
    """The token scope a request needs: pull for reads, pull,push for uploads."""
    if action == Action.CATALOG:
        return "registry:catalog:*"
    actions = {Action.PULL: "pull", Action.PUSH: "pull,push", Action.DELETE: "delete", Action.ADMIN: "*"}[action]
    return f"repository:{name}:{actions}"


def query_int(request: HttpRequest, key: str, *, default: int | None, maximum: int) -> int | None:
    raw = request.GET.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidRequestError(f"{key} must be an integer", detail={key: raw[:50]}) from None
    if value < 0:
        raise InvalidRequestError(f"{key} must not be negative", detail={key: value})
    return min(value, maximum)


def next_link(path: str, **params: object) -> str:
    return f'<{path}?{urlencode({k: v for k, v in params.items() if v is not None})}>; rel="next"'
