"""Who may see and change what: login, bearer tokens, roles, CSRF and security headers.

Nothing of stask is anonymous except the login page, static files and ``/health``. A request
is authenticated, in this order, by:

1. ``Authorization: Bearer <token>`` — ``STASK_API_TOKEN`` (admin) or ``STASK_READONLY_TOKEN``
   (read-only), each a comma-separated list; such requests are exempt from CSRF.
2. ``STASK_AUTHORIZE`` — a callable (or ``"module:function"``) taking the request and returning
   ``True``/``"admin"``, ``"readonly"`` or ``False``/``None``. When set it replaces the login
   page (wire it to the host's Flask-Login ``current_user``); ``STASK_LOGIN_URL`` is where
   anonymous browsers are sent then.
3. The session of the login page: ``STASK_ADMIN_PASSWORD`` (admin) or
   ``STASK_READONLY_PASSWORD`` (read-only), plain or a Werkzeug hash
   (``werkzeug.security.generate_password_hash``). ``STASK_LOGIN_TOKEN`` logs a browser in
   once through ``/login?token=…`` (``make run`` prints that URL, as Jupyter does). The cookie
   carries only the id of a server-side sign-in (:mod:`stask.service.sessions`): logout deletes
   it, and it ends after ``STASK_SESSION_IDLE_MINUTES`` unused or ``STASK_SESSION_MAX_HOURS``.

With none of these configured every request is refused, and the login page says why.
Every setting comes from the app's :class:`~stask.settings.Settings`, resolved once at start-up.
Session requests that change state need the per-session CSRF token: form field ``csrf_token``
or header ``X-CSRF-Token`` (base.html hands it to htmx through ``hx-headers``).
"""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
import posixpath
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import quote, unquote, urlsplit

import redis
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.http import parse_list_header
from werkzeug.security import check_password_hash
from werkzeug.utils import import_string
from werkzeug.wrappers import Response as BaseResponse

from ..exceptions import InvalidSetting, StaskError
from ..service import EXTENSION_KEY as SERVICE_KEY
from ..service import current_stask
from ..service.sessions import Sessions
from ..settings import Settings
from .errors import STASK_BLUEPRINTS, error_response, is_stask_request, register_error_handlers, url_prefix

log = logging.getLogger("stask")
F = TypeVar("F", bound=Callable[..., Any])

ADMIN = "admin"
READONLY = "readonly"
ROLES = (ADMIN, READONLY)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
#: Seconds over which failed logins from one address are counted (``STASK_LOGIN_MAX_FAILURES``).
LOGIN_FAILURE_WINDOW = 300
#: Largest request body of the public routes (login, logout): a password form, nothing more.
PUBLIC_MAX_BODY = 16 << 10
#: Werkzeug hash prefixes: such a configured password is checked with ``check_password_hash``.
HASH_PREFIXES = ("scrypt:", "pbkdf2:")
DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
#: Longest client address kept (a throttling key): an IPv6 address with a zone fits easily.
MAX_CLIENT_ADDRESS = 100
_SESSION_ID = "stask_sid"
_SESSION_STAMP = "stask_stamp"
_SESSION_CSRF = "stask_csrf"

auth_bp = Blueprint("stask_auth", __name__)


class SessionsUnavailable(StaskError):
    """Sign-ins live in Redis, which does not answer: nobody is signed in or out until it does."""

    code = "unavailable"
    http_status = 503


_protected: set[str] = set(STASK_BLUEPRINTS)


# -- configuration ---------------------------------------------------------------------------
def _settings() -> Settings:
    return current_stask().settings


def _authorize_hook() -> Callable[[Any], Any] | None:
    hook = _settings().authorize
    if isinstance(hook, str):
        hook = import_string(hook.replace(":", "."))
    if hook is not None and not callable(hook):
        raise TypeError("STASK_AUTHORIZE must be a callable taking the request (or its import path)")
    return hook


def login_configured(settings: Settings | None = None) -> bool:
    """Whether the built-in login page can sign anyone in."""
    settings = settings or _settings()
    return bool(settings.admin_password or settings.readonly_password or settings.login_token)


def auth_configured(settings: Settings | None = None) -> bool:
    settings = settings or _settings()
    return (
        login_configured(settings) or bool(settings.api_tokens or settings.readonly_tokens) or bool(settings.authorize)
    )


# -- secrets compared in constant time ---------------------------------------------------------
def _digest(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).digest()


def _match_any(given: str, candidates: list[str]) -> bool:
    """Compare digests (equal length) against every candidate, without stopping early."""
    given_digest = _digest(given)
    found = False
    for candidate in candidates:
        found |= hmac.compare_digest(given_digest, _digest(candidate))
    return found


def check_password(given: str, configured: str | None) -> bool:
    """A configured Werkzeug hash is checked as such; a plain password by digest comparison."""
    if not configured or not given:
        return False
    if configured.startswith(HASH_PREFIXES):
        return check_password_hash(configured, given)
    return _match_any(given, [configured])


def _stamp() -> str:
    """Changes when the passwords change, which signs every session out."""
    settings = _settings()
    material = f"{settings.admin_password or ''}\0{settings.readonly_password or ''}"
    key = str(current_app.secret_key or "").encode()
    return hmac.new(key, material.encode(), hashlib.sha256).hexdigest()[:16]


# -- roles -------------------------------------------------------------------------------------
def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return None
    return value.strip()


def _resolve_role() -> tuple[str | None, str | None]:
    """(role, how) for this request; how is "bearer", "host" or "session"."""
    token = _bearer()
    if token is not None:
        settings = _settings()
        bearer_key = current_stask().runtime.keys.bearer_failures(_client_address())
        if _too_many_failures(bearer_key):  # the right token too, as the login page does
            _request_state()["throttled"] = True
            return None, None
        if token and _match_any(token, settings.api_tokens):
            return ADMIN, "bearer"
        if token and _match_any(token, settings.readonly_tokens):
            return READONLY, "bearer"
        _record_failure(bearer_key)
        _request_state()["bad_token"] = True
        return None, None
    hook = _authorize_hook()
    if hook is not None:
        answer = hook(request)
        if answer is True or answer == ADMIN:
            return ADMIN, "host"
        if answer == READONLY:
            return READONLY, "host"
        return None, None
    return _session_role()


def _session_role() -> tuple[str | None, str | None]:
    """The login page's sign-in: the cookie's id must name a live server-side record.

    Logout, the idle timeout, the absolute lifetime and a flushed Redis all remove the record;
    a password change alters the stamp. Redis unreachable: nobody is signed in (503, see
    :func:`_refuse_anonymous`), never a traceback.
    """
    session_id = session.get(_SESSION_ID)
    if not session_id or not hmac.compare_digest(str(session.get(_SESSION_STAMP, "")), _stamp()):
        return None, None
    try:
        signed_in = Sessions(current_stask().runtime).check(str(session_id))
    except redis.RedisError as exc:
        log.warning("stask: sign-ins cannot be checked (Redis): %s", exc)
        _request_state()["sessions_down"] = True
        return None, None
    if signed_in is None or signed_in.role not in ROLES:
        return None, None
    _request_state()["session"] = signed_in.label
    return signed_in.role, "session"


def _request_state() -> dict[str, Any]:
    """Per-request auth state, kept in the WSGI environ rather than ``g``.

    ``g`` belongs to the app context, which a test (or a CLI command) may keep open across
    several requests; the environ is the request's own.
    """
    return request.environ.setdefault("stask.auth", {})  # type: ignore[no-any-return]


def current_role() -> str | None:
    """ "admin", "readonly", or None for an anonymous request (computed once per request)."""
    state = _request_state()
    if "role" not in state:
        state["role"], state["via"] = _resolve_role()
    return state["role"]  # type: ignore[no-any-return]


def authenticated_by() -> str | None:
    current_role()
    return _request_state().get("via")  # type: ignore[no-any-return]


def current_session_label() -> str | None:
    """A short name of this request's sign-in (a prefix of its digest, never the cookie's id), for logs."""
    current_role()
    return _request_state().get("session")  # type: ignore[no-any-return]


def can_write() -> bool:
    return current_role() == ADMIN


def require_write(view: F) -> F:
    """403 for the read-only role (and 401/redirect when nobody is signed in)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        role = current_role()
        if role is None:
            return _refuse_anonymous()
        if role != ADMIN:
            return error_response("forbidden", "read-only access: this needs the admin role", 403)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def own_body_limit(view: F) -> F:
    """Mark a view that checks the declared body size itself, after authentication (uploads:
    per worker); the guard still caps what reading the body may cost."""
    view._stask_own_body_limit = True  # type: ignore[attr-defined]
    return view


def public(view: F) -> F:
    """Mark a view of a protected blueprint as open to anonymous requests (health, login)."""
    view._stask_public = True  # type: ignore[attr-defined]
    return view


# -- CSRF ----------------------------------------------------------------------------------------
def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    token = session.get(_SESSION_CSRF)
    if not token:
        token = session[_SESSION_CSRF] = secrets.token_urlsafe(32)
    return str(token)


def csrf_valid() -> bool:
    expected = session.get(_SESSION_CSRF)
    given = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token") or ""
    return bool(expected) and hmac.compare_digest(str(given).encode(), str(expected).encode())


def session_reference() -> str | None:
    """A short, non-secret name of this signed-in browser session (the audit log's actor): the
    server-side sign-in's label, stable from login to logout, never the cookie's id."""
    return current_session_label()


def _audit(action: str, **details: Any) -> None:
    """One audit row for a sign-in event (the trail module reads this module's request state)."""
    from .audit_trail import record

    record(action, details=details)


def _csrf_failure() -> BaseResponse:
    return error_response("csrf_failed", "the form has expired or its CSRF token is missing: reload and try again", 403)


# -- the guard ------------------------------------------------------------------------------------
def _is_public() -> bool:
    endpoint = request.endpoint or ""
    if endpoint == "static" or endpoint.endswith(".static") or endpoint in ("stask_auth.login", "stask_auth.logout"):
        return True
    view = current_app.view_functions.get(endpoint)
    if getattr(view, "_stask_public", False):
        return True
    return request.path == url_prefix() + "/health"


def _login_redirect() -> BaseResponse:
    settings = _settings()
    login_url = settings.login_url if settings.authorize else None
    target = login_url or url_for("stask_auth.login")
    separator = "&" if "?" in target else "?"
    return redirect(f"{target}{separator}next={quote(request.full_path.rstrip('?'), safe='/')}")


def _refuse_anonymous() -> BaseResponse:
    """401 JSON for programs; the login page for browsers (htmx: a full-page redirect)."""
    from .errors import wants_json

    if _request_state().get("throttled"):
        return error_response(
            "too_many_requests",
            "too many bad bearer tokens from this address: try again later",
            429,
            {"Retry-After": str(LOGIN_FAILURE_WINDOW)},
        )
    if _request_state().get("sessions_down"):
        return error_response(
            "unavailable",
            "sign-ins cannot be checked right now (Redis is unreachable): try again shortly",
            503,
            {"Retry-After": "30"},
        )
    if _request_state().get("bad_token"):
        return error_response(
            "invalid_token", "the bearer token is not valid", 401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        )
    if request.headers.get("HX-Request") == "true":
        response = error_response("unauthorized", "sign in first", 401)
        response.headers["HX-Redirect"] = url_for("stask_auth.login")
        return response
    if wants_json():
        message = "sign in first: send Authorization: Bearer <token>"
        if not auth_configured():
            message = "no credentials are configured: set STASK_API_TOKEN (or STASK_ADMIN_PASSWORD)"
        return error_response("unauthorized", message, 401, {"WWW-Authenticate": 'Bearer realm="stask"'})
    settings = _settings()
    if settings.authorize and not settings.login_url:
        return error_response("forbidden", "you are not allowed to use this panel", 403)
    return _login_redirect()


def guard() -> BaseResponse | None:
    """before_request: refuse anonymous requests, enforce CSRF on session writes (once per request)."""
    state = _request_state()
    if state.get("guarded"):
        return None
    state["guarded"] = True
    if is_stask_request():
        too_large = _limit_body()
        if too_large is not None:
            return too_large
    if request.blueprint not in _protected or _is_public():
        return None
    if current_role() is None:
        return _refuse_anonymous()
    if request.method not in SAFE_METHODS and authenticated_by() != "bearer" and not csrf_valid():
        return _csrf_failure()
    return None


def _limit_body() -> BaseResponse | None:
    """Bound the body before anything (authentication, CSRF, the view) reads it.

    Public routes take at most ``PUBLIC_MAX_BODY``; the others ``STASK_MAX_REQUEST_MB`` (or the
    app's ``MAX_CONTENT_LENGTH``). A declared ``Content-Length`` above it is refused at once,
    unread; a chunked body is cut off by ``request.max_content_length`` when it is read. Upload
    views check the declared size against their worker's own limit and raise the cap themselves.
    """
    host_limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if _is_public():
        limit = min(PUBLIC_MAX_BODY, int(host_limit)) if host_limit is not None else PUBLIC_MAX_BODY
    else:
        limit = int(host_limit) if host_limit is not None else _settings().max_request_mb << 20
    request.max_content_length = limit
    if _is_public() and request.content_length is None:
        return _buffer_streamed_body(limit)
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "_stask_own_body_limit", False):
        return None
    if request.content_length is not None and request.content_length > limit:
        return error_response("too_large", "the request body is too large", 413)
    return None


def _buffer_streamed_body(limit: int) -> BaseResponse | None:
    """A public route's streamed (chunked) body: read here, at most ``limit + 1`` bytes.

    Werkzeug would silently cut such a body at the limit (the truncated form then fails its
    CSRF check: a 403 that hides the cause). Over the limit is a 413; otherwise the views read
    the buffered copy. Without ``wsgi.input_terminated`` the server does not end the stream and
    Werkzeug reads no body at all, so neither does this.
    """
    environ = request.environ
    if "wsgi.input_terminated" not in environ:
        return None
    stream = environ["wsgi.input"]
    body = bytearray()
    while len(body) <= limit:
        chunk = stream.read(limit + 1 - len(body))
        if not chunk:
            break
        body += chunk
    if len(body) > limit:
        return error_response("too_large", "the request body is too large", 413)
    environ["wsgi.input"] = io.BytesIO(bytes(body))
    environ["CONTENT_LENGTH"] = str(len(body))
    return None


def protect(blueprint: Blueprint) -> None:
    """Require an authenticated user (and CSRF on writes) for every view of ``blueprint``."""
    if blueprint.name in _protected and blueprint.name not in STASK_BLUEPRINTS:
        return
    _protected.add(blueprint.name)
    if not getattr(blueprint, "_stask_guard", False):
        blueprint._stask_guard = True  # type: ignore[attr-defined]
        blueprint.before_request(guard)


# -- headers on every stask response ----------------------------------------------------------------
def _security_headers(response: Response) -> BaseResponse:
    if not is_stask_request() and not request.path.startswith("/static/stask/"):
        return response
    headers = response.headers
    headers.setdefault("Content-Security-Policy", _settings().csp or DEFAULT_CSP)
    for name, value in SECURITY_HEADERS.items():
        headers.setdefault(name, value)
    endpoint = request.endpoint or ""
    if not (endpoint == "static" or endpoint.endswith(".static")) and "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"
    return response


# -- the login page -----------------------------------------------------------------------------------
def _safe_next(target: str | None) -> str:
    """Only a path under the stask prefix once normalised: never another site (``//evil``,
    ``https://``, ``\\``), never ``/prefix/../elsewhere``, never control characters (a CR/LF
    would break the ``Location`` header)."""
    default = _home()
    if not target or not isinstance(target, str):
        return default
    if "\\" in target or any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    # Browsers resolve "." and ".." segments, percent-encoded ones too ("%2e%2e"): check what they will.
    decoded = unquote(parts.path)
    if "\\" in decoded or any(ord(char) < 0x20 or ord(char) == 0x7F for char in decoded):
        return default
    path = posixpath.normpath(decoded)
    prefix = url_prefix()
    if prefix and not (path == prefix or path.startswith(prefix + "/")):
        return default
    return target


def _home() -> str:
    try:
        return url_for("stask_panel.dashboard")
    except Exception:  # the panel may be disabled in a host app: the prefix is the next best place
        return url_prefix() + "/"


def _client_address() -> str:
    """The client this request comes from, seen through ``STASK_TRUSTED_PROXIES`` reverse proxies.

    Throttling keys on it (and the audit log records it). Computed inside stask rather than by
    wrapping the app in ProxyFix: stask is also an extension, and must not change what a host's
    own views see as ``request.remote_addr``.
    """
    state = _request_state()
    if "client" not in state:
        state["client"] = forwarded_client(request.environ, _settings().trusted_proxies)
    return state["client"]  # type: ignore[no-any-return]


def forwarded_client(environ: dict[str, Any], trusted: int) -> str:
    """Werkzeug ProxyFix's ``x_for`` rule: with ``trusted`` proxies in front, the ``trusted``-th
    address from the right of ``X-Forwarded-For`` (the one the outermost proxy saw connect);
    with fewer entries than that, or ``trusted`` 0, the socket's address.

    With 0 the header is ignored and ``REMOTE_ADDR`` is taken as the WSGI stack hands it over
    (a host's own ProxyFix included). Above 0 the rule is applied to the original ``REMOTE_ADDR``
    and header, so a host's ProxyFix in front is not counted twice.
    """
    remote = environ.get("REMOTE_ADDR") or ""
    client = remote
    if trusted > 0:
        remote = environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR", remote) or ""
        values = parse_list_header(environ.get("HTTP_X_FORWARDED_FOR", ""))
        client = values[-trusted] if len(values) >= trusted else remote
    return (client.strip() or remote or "unknown")[:MAX_CLIENT_ADDRESS]


def _client_key() -> str:
    return current_stask().runtime.keys.login_failures(_client_address())


def _runtime_redis() -> redis.Redis:
    return current_stask().runtime.redis


def _too_many_failures(key: str | None = None) -> bool:
    """Whether ``key`` (failed logins of this address by default) reached ``STASK_LOGIN_MAX_FAILURES``."""
    connection = _runtime_redis()
    try:
        count = connection.get(key or _client_key())
    except redis.RedisError as exc:
        log.warning("stask: login rate limit unavailable (Redis): %s", exc)
        return False
    limit = _settings().login_max_failures
    return count is not None and int(count) >= limit


def _record_failure(key: str | None = None) -> None:
    connection = _runtime_redis()
    key = key or _client_key()
    try:
        # SET NX EX starts the window with its expiry; INCR keeps it (EXPIRE ... NX needs Redis 7).
        pipe = connection.pipeline(transaction=False)
        pipe.set(key, 0, nx=True, ex=LOGIN_FAILURE_WINDOW)
        pipe.incr(key)
        pipe.execute()
    except redis.RedisError as exc:
        log.warning("stask: could not record a failed login (Redis): %s", exc)


def _sign_in(role: str) -> None:
    """A fresh session (no fixation): a new server-side sign-in, its own CSRF token, the password stamp."""
    sessions = Sessions(current_stask().runtime)
    try:
        session_id = sessions.open(role)
        previous = session.get(_SESSION_ID)
        if previous:
            sessions.close(str(previous))  # signing in again ends the sign-in this browser had
    except redis.RedisError as exc:
        raise SessionsUnavailable("cannot sign in right now (Redis is unreachable): try again shortly") from exc
    session.clear()
    session[_SESSION_ID] = session_id
    session[_SESSION_STAMP] = _stamp()
    session[_SESSION_CSRF] = secrets.token_urlsafe(32)
    _request_state().pop("role", None)


def _use_login_token(token: str) -> bool:
    """The one-time token: valid once across every process (a Redis SET NX marks it used)."""
    configured = _settings().login_token
    if not configured or not token or not _match_any(token, [configured]):
        return False
    keys = current_stask().runtime.keys
    key = keys.login_token_used(hashlib.sha256(token.encode()).hexdigest()[:32])
    try:
        return bool(_runtime_redis().set(key, 1, nx=True, ex=30 * 86400))
    except redis.RedisError as exc:
        raise SessionsUnavailable("cannot sign in right now (Redis is unreachable): try again shortly") from exc


def _sign_out() -> None:
    """Delete the server-side sign-in, so that a saved copy of the cookie stops working at once."""
    session_id = session.pop(_SESSION_ID, None)
    session.pop(_SESSION_STAMP, None)
    session[_SESSION_CSRF] = secrets.token_urlsafe(32)
    if not session_id:
        return
    try:
        Sessions(current_stask().runtime).close(str(session_id))
    except redis.RedisError as exc:
        raise SessionsUnavailable(
            "signed out of this browser, but the sign-in could not be deleted (Redis is unreachable): "
            "it ends after STASK_SESSION_IDLE_MINUTES unused"
        ) from exc


def _login_page(error: str | None = None, status: int = 200) -> BaseResponse:
    settings = _settings()
    context = {
        "error": error,
        "next": _safe_next(request.values.get("next")),
        "login_configured": login_configured(settings),
        "has_password": bool(settings.admin_password or settings.readonly_password),
        "host_managed": bool(settings.authorize),
        "host_login_url": settings.login_url,
        "role": current_role(),
    }
    return Response(render_template("stask/login.html", **context), status=status)


@auth_bp.route("/login", methods=["GET", "POST"])
def login() -> BaseResponse:
    """The password form; ``?token=`` signs in with the one-time login token."""
    if request.method == "GET":
        token = request.args.get("token")
        if token is not None:
            if _too_many_failures():
                return _login_page("too_many", 429)
            target = _safe_next(request.args.get("next"))  # checked before the token is spent
            if _use_login_token(token):
                _sign_in(ADMIN)
                _audit("auth.login", method="link")
                return redirect(target, code=303)
            _record_failure()
            _audit("auth.login_failed", method="link")
            return _login_page("bad_token", 403)
        return _login_page()
    settings = _settings()
    if settings.authorize:
        return _login_page("host_managed", 400)
    if not csrf_valid():
        return _login_page("csrf", 400)
    if _too_many_failures():
        return _login_page("too_many", 429)
    password = request.form.get("password", "")
    target = _safe_next(request.form.get("next"))  # checked before the session changes
    role = None
    if check_password(password, settings.admin_password):
        role = ADMIN
    elif check_password(password, settings.readonly_password):
        role = READONLY
    if role is None:
        _record_failure()
        _audit("auth.login_failed", method="password")
        return _login_page("bad_password", 401)
    _sign_in(role)
    _audit("auth.login", method="password")
    return redirect(target, code=303)


@auth_bp.route("/logout", methods=["GET", "POST"])
def logout() -> BaseResponse:
    """POST (with the CSRF token), or a GET from one of stask's own pages, signs out."""
    same_site = request.headers.get("Sec-Fetch-Site") == "same-origin"
    if request.method == "POST" and not csrf_valid():
        return error_response("csrf_failed", "the form has expired: reload and try again", 403)
    if request.method == "POST" or same_site:
        if authenticated_by() == "session":  # a signed-in session ends (not a stale form)
            _audit("auth.logout")
        _sign_out()
        return redirect(url_for("stask_auth.login"), code=303)
    return Response(render_template("stask/logout.html"))


# -- installation -----------------------------------------------------------------------------------
def generate_login_token() -> str:
    """A fresh one-time login token (``make run`` puts it in ``STASK_LOGIN_TOKEN`` and prints the URL)."""
    return secrets.token_urlsafe(24)


def init_auth(app: Flask, settings: Settings | None = None) -> None:
    """The guard, CSRF helpers for templates, security headers, error handlers.

    The host's configuration is left alone: the session key and cookie flags are the host's
    (the standalone ``create_app`` sets its own). ``settings`` defaults to the app's service's.
    """
    if settings is None:
        settings = app.extensions[SERVICE_KEY].settings
    _check_access_settings(settings)
    for blueprint in (auth_bp,):
        protect(blueprint)
    app.before_request(guard)
    app.after_request(_security_headers)
    register_error_handlers(app)
    app.jinja_env.globals["stask_csrf_token"] = csrf_token

    @app.context_processor
    def _auth_context() -> dict[str, Any]:
        # Only on stask pages: a host using Flask-WTF keeps its own ``csrf_token`` elsewhere.
        if not is_stask_request():
            return {}
        return {"csrf_token": csrf_token, "stask_current_role": current_role}

    if not app.config.get("TESTING") and not auth_configured(settings):
        log.warning(
            "stask: no STASK_ADMIN_PASSWORD, STASK_API_TOKEN or STASK_AUTHORIZE configured; "
            "the panel and the API refuse every request"
        )


def _check_access_settings(settings: Settings) -> None:
    """Refuse out-of-range values at start-up, not at the first request."""
    for key, value, least in (
        ("STASK_SESSION_IDLE_MINUTES", settings.session_idle_minutes, 1),
        ("STASK_SESSION_MAX_HOURS", settings.session_max_hours, 1),
        ("STASK_TRUSTED_PROXIES", settings.trusted_proxies, 0),
    ):
        if value < least:
            raise InvalidSetting(f"{key} must be at least {least}, got {value}")
