"""Sign in and out, the current user and their session, password changes, and the role checks staff views use."""

from __future__ import annotations

import time
from functools import wraps

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    has_request_context,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFError
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from registry.extensions import get_store
from registry.services import Actor, InvalidInput, logins, record_audit, unit_of_work
from registry.services.users import MIN_PASSWORD, as_actor, authenticate, end_sessions, get_user
from registry.services.users import change_password as change_password_service
from registry.web.redirects import safe_next

bp = Blueprint("auth", __name__)

# Refresh the idle clock at most once a minute, so pages do not each send a new cookie.
_SEEN_EVERY = 60


class RegistrySessionInterface(SecureCookieSessionInterface):
    """The signed cookie session, marked Secure when the request came over https (or always, by setting)."""

    def get_cookie_secure(self, app) -> bool:
        mode = app.config.get("SESSION_COOKIE_SECURE_MODE", "auto")
        if mode == "auto":
            # request.is_secure follows X-Forwarded-Proto once the trusted-proxy fix has rewritten the scheme.
            return bool(has_request_context() and request.is_secure)
        return mode == "true"


@bp.record_once
def _use_session_interface(state) -> None:
    state.app.session_interface = RegistrySessionInterface()


class LoginForm(FlaskForm):
    username = StringField("username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=256)])


class PasswordForm(FlaskForm):
    current_password = PasswordField("current_password", validators=[DataRequired(), Length(max=256)])
    new_password = PasswordField("new_password", validators=[DataRequired(), Length(max=256)])
    repeat_password = PasswordField("repeat_password", validators=[DataRequired(), Length(max=256)])


def _end_session(message: str) -> None:
    """Forget the signed-in user but keep the chosen language, and say why."""
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    flash(message)


def _session_user():
    user_id = session.get("user_id")
    if not user_id:
        return None
    user = get_user(get_store(), user_id)
    config = current_app.config
    now = int(time.time())
    if user is None or session.get("gen") != user.session_generation:
        _end_session(_("您的会话已结束（已在别处退出、修改了密码或账户已停用），请重新登录。"))
        return None
    if now - int(session.get("seen", 0)) > float(config["SESSION_IDLE_MINUTES"]) * 60 \
            or now - int(session.get("at", 0)) > float(config["SESSION_MAX_HOURS"]) * 3600:
        _end_session(_("您的会话已过期，请重新登录。"))
        return None
    if now - int(session.get("seen", 0)) >= _SEEN_EVERY:
        session["seen"] = now
    return user


def current_user():
    """The signed-in user of a live session (cached for the request), or None."""
    if "current_user" not in g:
        g.current_user = _session_user()
    return g.current_user


def current_actor() -> Actor:
    user = current_user()
    return as_actor(user, get_store()) if user else Actor(name="anonymous")


def audit_forbidden(message: str) -> None:
    """Keep a refused attempt (a county outside the user's scope) in the audit trail, as every 403 is."""
    with unit_of_work(get_store()) as session:
        record_audit(session, current_actor(), "forbidden", entity_type="route",
                     note=f"{request.method} {request.path}: {message}"[:500])


def role_required(*roles: str):
    """Allow signed-in users holding one of ``roles`` (admin holds all); others go to login or get 403."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = current_user()
            if user is None:
                return redirect(url_for("auth.login", next=request.path))
            if roles and not any(user.has_role(role) for role in roles):
                with unit_of_work(get_store()) as db:
                    record_audit(db, as_actor(user), "forbidden", entity_type="route", note=request.path)
                abort(403, description=_("您没有访问此页面的权限。"))
            return view(*args, **kwargs)

        return wrapped

    return decorator


@bp.app_context_processor
def inject_user():
    return {"current_user": current_user()}


# Pages a user holding a one-time password may still open: the change form, sign-out and static files.
_OPEN_WHILE_CHANGING = ("auth.change_password", "auth.logout", "static")


@bp.before_app_request
def _one_time_password_first():
    """A user signed in with a one-time password must choose their own before anything else."""
    if "user_id" not in session or request.endpoint in _OPEN_WHILE_CHANGING \
            or (request.endpoint or "").startswith("assets."):
        return None
    user = current_user()
    if user is None or not user.must_change_password:
        return None
    message = _("请先设置新密码（管理员重置的一次性密码必须修改）。")
    if request.path.startswith(("/api", "/ogc", "/tiles")) or request.accept_mimetypes.best == "application/json":
        return jsonify({"status": 403, "message": message, "field": "new_password"}), 403
    flash(message)
    return redirect(url_for("auth.change_password"))


@bp.app_errorhandler(CSRFError)
def csrf_refused(exc: CSRFError):
    from registry.web.errors import respond

    with unit_of_work(get_store()) as db:
        record_audit(db, current_actor(), "forbidden", entity_type="route",
                     note=f"{request.method} {request.path}: {exc.description}"[:500])
    if "expired" in (exc.description or ""):
        return respond(400, _("表单已过期，请刷新页面后重试。"), "csrf_token")
    return respond(400, _("表单缺少有效的安全令牌（csrf_token），请刷新页面后重试。"), "csrf_token")


def _throttled(verdict: logins.Verdict, template: str, **context):
    """The answer to a sign-in held by a lock (403) or a delay (429 with Retry-After); no password is checked."""
    if verdict.locked:
        error = (_("该账户因多次登录失败已被锁定，请联系管理员解锁。") if verdict.holder == "account"
                 else _("来自您的地址的登录失败次数过多，已被锁定，请联系管理员解锁。"))
        return render_template(template, error=error, field="username", **context), 403
    error = _("登录失败次数过多，请 %(seconds)s 秒后再试。", seconds=verdict.retry_after)
    return (render_template(template, error=error, field="username", **context), 429,
            {"Retry-After": str(verdict.retry_after)})


def _missing_field(form: FlaskForm) -> str | None:
    return next(iter(form.errors), None)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with a username and password."""
    target = safe_next(request.args.get("next"))
    form = LoginForm()
    if not form.validate_on_submit():
        if request.method == "POST":
            return render_template("auth/login.html", form=form, error=_("请填写用户名和密码。"),
                                   field=_missing_field(form)), 400
        return render_template("auth/login.html", form=form)
    store, address = get_store(), request.remote_addr
    rules = logins.Rules.from_config(current_app.config)
    username = form.username.data
    verdict = logins.check(store, rules, username, address)
    if not verdict.allowed:
        logins.record_refusal(store, username, address, verdict)
        return _throttled(verdict, "auth/login.html", form=form)
    user = authenticate(store, username, form.password.data)
    if user is None:
        locked = logins.record_failure(store, rules, username, address)
        if locked:
            return _throttled(logins.Verdict(allowed=False, locked=True,
                                             holder="account" if logins.account_key(username) in locked
                                             else "address"), "auth/login.html", form=form)
        return render_template("auth/login.html", form=form, error=_("用户名或密码不正确。")), 400
    logins.signed_in(store, as_actor(user), address)
    _start_session(user.id, user.session_generation)
    if user.must_change_password:
        flash(_("请先设置新密码（管理员重置的一次性密码必须修改）。"))
        return redirect(url_for("auth.change_password"))
    flash(_("已登录。"))
    return redirect(target)


def _start_session(user_id: int, generation: int) -> None:
    # A new session on every sign-in: nothing a visitor held before (a planted cookie) carries over.
    locale = session.get("locale")
    session.clear()
    now = int(time.time())
    session.update({"user_id": user_id, "gen": generation, "at": now, "seen": now})
    if locale:
        session["locale"] = locale
    g.pop("current_user", None)


@bp.post("/logout")
def logout():
    """Sign out everywhere: every session of this user ends (POST with the CSRF token)."""
    user = current_user()
    if user is not None:
        end_sessions(get_store(), as_actor(user), user.id, "logout")
    locale = session.get("locale")
    session.clear()
    if locale:
        session["locale"] = locale
    return redirect("/")


def _password_message(exc: InvalidInput) -> str:
    """A refused password change said in the page's language: the rule it breaks, and the field."""
    rules = {
        "short": _("新密码至少需要 %(n)d 个字符。", n=MIN_PASSWORD),
        "no_words": _("新密码只有数字和符号，这类密码最先被猜中；请加入文字。"),
        "common": _("新密码在常用密码名单上（或只是在常用密码前后加了数字或符号）；请另选一个。"),
        "user_name": _("新密码不能是用户名（无论是否加数字）。"),
        "few_characters": _("新密码中不同的字符太少；请另选一个。"),
        "wrong_current": _("当前密码不是此账户的密码。"),
        "not_repeated": _("两次输入的新密码不一致。"),
        "unchanged": _("新密码必须与当前密码不同。"),
    }
    return rules.get(getattr(exc, "rule", None), exc.message)


@bp.route("/account/password", methods=["GET", "POST"])
def change_password():
    """Change one's own password; every other session of the account ends."""
    user = current_user()
    if user is None:
        return redirect(url_for("auth.login", next=request.path))
    form = PasswordForm()
    template = "auth/password.html"
    if not form.validate_on_submit():
        if request.method == "POST":
            return render_template(template, form=form, error=_("请填写全部三个密码字段。"),
                                   field=_missing_field(form)), 400
        return render_template(template, form=form)
    store, address = get_store(), request.remote_addr
    rules = logins.Rules.from_config(current_app.config)
    verdict = logins.check(store, rules, user.username, address)
    if not verdict.allowed:
        logins.record_refusal(store, user.username, address, verdict)
        return _throttled(verdict, template, form=form)
    try:
        generation = change_password_service(store, as_actor(user), user.id, form.current_password.data,
                                             form.new_password.data, form.repeat_password.data)
    except InvalidInput as exc:
        if exc.field == "current_password":
            # A stolen session must not become a way to guess the password: count it like a failed sign-in.
            logins.record_failure(store, rules, user.username, address, user.id, what="password change")
        return render_template(template, form=form, error=_password_message(exc), field=exc.field), 400
    _start_session(user.id, generation)
    flash(_("密码已修改；此账户的其他会话均已结束。"))
    return redirect("/")


def _no_store(response):
    # A page that shows a one-time password must not be kept by the browser or a proxy.
    response.headers["Cache-Control"] = "no-store"
    return response


def _accounts_page(one_time: tuple[str, str] | None = None, status: int = 200, error: str | None = None,
                   field: str | None = None):
    from registry.services.users import list_users

    store = get_store()
    locked = {row.key: row for row in logins.locks(store)}
    page = render_template("auth/accounts.html", users=list_users(store), locked=locked,
                           account_key=logins.account_key, one_time=one_time, error=error, field=field)
    return _no_store(current_app.make_response((page, status)))


@bp.get("/admin/accounts")
@role_required("admin")
def accounts():
    """Accounts, sign-in locks, and the administrator's unlock and one-time-password reset."""
    return _accounts_page()


@bp.post("/admin/accounts/<path:username>/unlock")
@role_required("admin")
def unlock_account(username: str):
    """Lift the sign-in lock of an account name."""
    logins.unlock(get_store(), current_actor(), username=username)
    flash(_("已解锁 %(name)s。", name=username))
    return redirect(url_for("auth.accounts"), code=303)


@bp.post("/admin/accounts/unlock-address")
@role_required("admin")
def unlock_address():
    """Lift the sign-in lock of a client address."""
    import ipaddress

    address = (request.form.get("address") or "").strip()
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return _accounts_page(status=400, field="address",
                              error=_("地址 %(address)s 不是 IP 地址。", address=address[:64]))
    logins.unlock(get_store(), current_actor(), address=address)
    flash(_("已解锁地址 %(address)s。", address=address))
    return redirect(url_for("auth.accounts"), code=303)


@bp.post("/admin/accounts/<path:username>/reset")
@role_required("admin")
def reset_account(username: str):
    """Give an account a one-time password, shown once on the answer; its sessions end and its lock lifts."""
    from registry.services.users import reset_password

    one_time = reset_password(get_store(), current_actor(), username)
    return _accounts_page(one_time=(username, one_time))


def token_actor() -> Actor | None:
    """The actor of an API token on this request: ``Authorization: Bearer <token>``, or the token as the
    password of Basic authentication (what calendar apps can send); None when no Authorization header came
    or the token is unknown, revoked or expired. Used on the endpoints whose rights row allows tokens."""
    from registry.services.gis.tokens import actor_for_token

    credentials = request.authorization
    token = None
    if credentials is not None and credentials.type == "bearer":
        token = credentials.token
    elif credentials is not None and credentials.type == "basic":
        token = credentials.password
    return actor_for_token(get_store(), token.strip()) if token else None
