"""Sign in and out, the current user, and the role checks every staff view uses."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from registry.extensions import get_store
from registry.services import Actor, record_audit, unit_of_work
from registry.services.users import as_actor, authenticate, get_user

bp = Blueprint("auth", __name__)


class LoginForm(FlaskForm):
    username = StringField("username", validators=[DataRequired(), Length(max=64)])
    password = PasswordField("password", validators=[DataRequired(), Length(max=256)])


def current_user():
    """The signed-in user (cached for the request), or None."""
    if "current_user" not in g:
        user_id = session.get("user_id")
        g.current_user = get_user(get_store(), user_id) if user_id else None
    return g.current_user


def current_actor() -> Actor:
    user = current_user()
    return as_actor(user) if user else Actor(name="anonymous")


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


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Sign in with a username and password."""
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = authenticate(get_store(), form.username.data, form.password.data)
        if user is None:
            error = _("用户名或密码不正确。")
        else:
            session.clear()
            session["user_id"] = user.id
            with unit_of_work(get_store()) as db:
                record_audit(db, as_actor(user), "login", entity_type="users", entity_id=user.id)
            flash(_("已登录。"))
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/") and not target.startswith("//") else "/")
    elif request.method == "POST":
        error = _("请填写用户名和密码。")
    return render_template("auth/login.html", form=form, error=error), 200 if error is None else 400


@bp.post("/logout")
def logout():
    """Sign out (POST with the CSRF token, so a link on another site cannot sign anyone out)."""
    user = current_user()
    if user is not None:
        with unit_of_work(get_store()) as db:
            record_audit(db, as_actor(user), "logout", entity_type="users", entity_id=user.id)
    session.clear()
    return redirect("/")
