"""Accounts and sessions under attack: the secret key, cookies, session ends, CSRF expiry, throttling, redirects."""

from __future__ import annotations

import re
import stat
import threading
import time
from datetime import timedelta

import pytest
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select, update

from registry import ConfigError, config
from registry.models import AuditEvent, LoginThrottle, User
from registry.models.types import utcnow
from registry.services import InvalidInput
from registry.services.users import create_user, retire_user
from tests.conftest import make_app
from tests.factories import SYSTEM

PASSWORD = "planner-password"
# The development key the registry once shipped with: anyone could read it, so anyone could sign a session.
PUBLISHED_KEY = "dev-only-not-secret"


def login(client, username="planner1", password=PASSWORD, **kwargs):
    return client.post("/login", data={"username": username, "password": password}, **kwargs)


def signed_in(client) -> bool:
    response = client.get("/history")
    return response.status_code == 200


def events(store, action: str) -> list[AuditEvent]:
    with store.session() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


@pytest.fixture
def planner(any_app):
    store = any_app.extensions["registry_store"]
    create_user(store, SYSTEM, "planner1", PASSWORD, ["planner"])
    return store


@pytest.fixture
def gpkg_planner(app):
    """As ``planner`` on the embedded store only, for checks that never reach the store's differences."""
    store = app.extensions["registry_store"]
    create_user(store, SYSTEM, "planner1", PASSWORD, ["planner"])
    return store


# --- the secret key ---------------------------------------------------------------------------------------


def test_an_unset_key_is_generated_once_into_a_private_file_and_reused(gpkg_url, tmp_path):
    key_file = tmp_path / "instance" / "secret_key"
    first = make_app(gpkg_url, SECRET_KEY=None, SECRET_KEY_FILE=str(key_file))
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.secret_key == key_file.read_text().strip() and len(first.secret_key) == 64
    create_user(first.extensions["registry_store"], SYSTEM, "planner1", PASSWORD, ["planner"])
    client = first.test_client()
    login(client)
    cookie = client.get_cookie("session").value

    second = make_app(gpkg_url, SECRET_KEY=None, SECRET_KEY_FILE=str(key_file))
    assert second.secret_key == first.secret_key
    other = second.test_client()
    other.set_cookie("session", cookie)
    assert signed_in(other), "a restarted app must keep its sessions: it reads the same key file"


def test_db_upgrade_says_it_wrote_the_key_and_later_runs_keep_it(tmp_path):
    key_file = tmp_path / "instance" / "secret_key"
    url = f"sqlite:///{tmp_path / 'registry.gpkg'}"
    app = make_app(url, SECRET_KEY=None, SECRET_KEY_FILE=str(key_file))
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"wrote a new random secret key to {key_file} (mode 0600)" in result.output
    key = key_file.read_text()
    again = make_app(url, SECRET_KEY=None, SECRET_KEY_FILE=str(key_file))
    result = again.test_cli_runner().invoke(args=["db", "upgrade"])
    assert "secret key" not in result.output and key_file.read_text() == key


def test_workers_starting_together_all_read_one_key(tmp_path):
    key_file = tmp_path / "secret_key"
    keys, errors = [], []

    def start():
        try:
            keys.append(config.load({"SECRET_KEY": None, "SECRET_KEY_FILE": str(key_file)},
                                    instance_path=tmp_path)["SECRET_KEY"])
        except Exception as exc:  # noqa: BLE001 - a failure in a thread is collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == [] and len(keys) == 8 and len(set(keys)) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["secret_key"], "no draft file is left behind"


def test_a_key_file_others_can_read_is_refused(tmp_path):
    key_file = tmp_path / "secret_key"
    key_file.write_text("k" * 64)
    key_file.chmod(0o644)
    with pytest.raises(ConfigError, match=rf"chmod 600 {re.escape(str(key_file))}"):
        config.load({"SECRET_KEY": None, "SECRET_KEY_FILE": str(key_file)}, instance_path=tmp_path)


@pytest.mark.parametrize("overrides, message", [
    ({"SECRET_KEY": None}, "REGISTRY_SECRET_KEY is unset"),
    ({"SECRET_KEY": ""}, "REGISTRY_SECRET_KEY is unset"),
    ({"SECRET_KEY": PUBLISHED_KEY}, "production needs at least 24"),
    ({"SECRET_KEY": "short-key"}, "production needs at least 24"),
])
def test_production_refuses_a_missing_or_weak_key(tmp_path, overrides, message):
    with pytest.raises(ConfigError, match=message):
        config.load({"ENV": "production", **overrides}, instance_path=tmp_path)
    assert not (tmp_path / "secret_key").exists(), "production never makes a key of its own"


def test_production_ignores_a_key_file_made_in_development_but_reads_one_it_is_pointed_at(tmp_path):
    config.load({"SECRET_KEY": None}, instance_path=tmp_path)  # development writes instance/secret_key
    with pytest.raises(ConfigError, match="REGISTRY_SECRET_KEY is unset"):
        config.load({"ENV": "production", "SECRET_KEY": None}, instance_path=tmp_path)
    loaded = config.load({"ENV": "production", "SECRET_KEY": None,
                          "SECRET_KEY_FILE": str(tmp_path / "secret_key")}, instance_path=tmp_path)
    assert loaded["SECRET_KEY"] == (tmp_path / "secret_key").read_text().strip()


def _forged_cookie(key: str, user_id: int, generation: int = 0) -> str:
    forger = Flask("forger")
    forger.secret_key = key
    now = int(time.time())
    payload = {"user_id": user_id, "gen": generation, "at": now, "seen": now}
    return SecureCookieSessionInterface().get_signing_serializer(forger).dumps(payload)


def test_a_session_signed_with_the_published_key_is_not_accepted(gpkg_url, tmp_path):
    app = make_app(gpkg_url, SECRET_KEY=None, SECRET_KEY_FILE=str(tmp_path / "secret_key"))
    admin = create_user(app.extensions["registry_store"], SYSTEM, "boss", "administrator-pass", ["admin"])
    forged = app.test_client()
    forged.set_cookie("session", _forged_cookie(PUBLISHED_KEY, admin.id))
    response = forged.get("/history")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    # The same cookie signed with the app's own key is a session, so the refusal above is the key's doing.
    genuine = app.test_client()
    genuine.set_cookie("session", _forged_cookie(app.secret_key, admin.id))
    assert signed_in(genuine)


# --- cookies and lifetimes -----------------------------------------------------------------------------------


def _session_cookie_header(response) -> str:
    return next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("session="))


@pytest.mark.parametrize("setting, base_url, secure", [
    ("auto", "http://localhost", False),
    ("auto", "https://localhost", True),
    ("true", "http://localhost", True),
    ("false", "https://localhost", False),
])
def test_the_session_cookie_is_httponly_lax_and_secure_over_https(gpkg_url, setting, base_url, secure):
    app = make_app(gpkg_url, SESSION_COOKIE_SECURE_MODE=setting)
    create_user(app.extensions["registry_store"], SYSTEM, "planner1", PASSWORD, ["planner"])
    response = login(app.test_client(), base_url=base_url)
    assert response.status_code == 302
    header = _session_cookie_header(response)
    assert "HttpOnly" in header and "SameSite=Lax" in header
    assert ("Secure" in header.split("; ")) is secure


def test_a_wrong_secure_setting_stops_start_up_by_name(monkeypatch, tmp_path):
    monkeypatch.setenv("REGISTRY_SESSION_COOKIE_SECURE", "sometimes")
    with pytest.raises(ConfigError, match="REGISTRY_SESSION_COOKIE_SECURE='sometimes'"):
        config.load({"SECRET_KEY": "x" * 32}, instance_path=tmp_path)


@pytest.mark.parametrize("idle_minutes_ago, hours_since_login, alive", [
    (5, 1, True),
    (59, 1, True),
    (61, 1, False),
    (5, 13, False),
])
def test_a_session_ends_after_the_idle_limit_or_the_longest_lifetime(app, idle_minutes_ago, hours_since_login,
                                                                     alive):
    create_user(app.extensions["registry_store"], SYSTEM, "planner1", PASSWORD, ["planner"])
    client = app.test_client()
    login(client)
    now = int(time.time())
    with client.session_transaction() as sess:
        sess["seen"] = now - idle_minutes_ago * 60
        sess["at"] = now - hours_since_login * 3600
    response = client.get("/history")
    assert (response.status_code == 200) is alive
    if not alive:
        assert "/login" in response.headers["Location"]
        assert "会话已过期" in client.get("/login").get_data(as_text=True)


def _change_password(client, current=PASSWORD, new="a-brand-new-long-secret", repeat=None):
    return client.post("/account/password", data={"current_password": current, "new_password": new,
                                                  "repeat_password": new if repeat is None else repeat})


@pytest.mark.parametrize("ending", ["logout", "password change", "retire", "admin reset"])
def test_logout_password_change_retire_and_reset_end_the_users_other_sessions(any_app, planner, ending):
    thief, owner = any_app.test_client(), any_app.test_client()
    login(thief)
    login(owner)
    assert signed_in(thief) and signed_in(owner)
    if ending == "logout":
        owner.post("/logout")
    elif ending == "password change":
        assert _change_password(owner).status_code == 302
        assert signed_in(owner), "the session that changed the password carries on"
    elif ending == "retire":
        retire_user(planner, SYSTEM, "planner1")
    else:
        result = any_app.test_cli_runner().invoke(args=["users", "reset-password", "planner1"])
        assert result.exit_code == 0, result.output
    response = thief.get("/history")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert "会话已结束" in thief.get("/login").get_data(as_text=True)


# --- CSRF tokens expire ----------------------------------------------------------------------------------------


class _HourAgoSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 3600


def test_a_csrf_token_older_than_the_limit_is_refused_by_name(gpkg_url):
    app = make_app(gpkg_url, WTF_CSRF_ENABLED=True, CSRF_TIME_LIMIT_SECONDS=600)
    assert app.config["WTF_CSRF_TIME_LIMIT"] == 600
    store = app.extensions["registry_store"]
    create_user(store, SYSTEM, "planner1", PASSWORD, ["planner"])
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    fresh = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    with client.session_transaction() as sess:
        raw = sess["csrf_token"]
    stale = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token", signer=_HourAgoSigner).dumps(raw)
    response = client.post("/login", data={"username": "planner1", "password": PASSWORD, "csrf_token": stale})
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "表单已过期" in body and "csrf_token" in body
    assert not signed_in(client)
    assert any("expired" in (e.note or "") for e in events(store, "forbidden"))
    response = client.post("/login", data={"username": "planner1", "password": PASSWORD, "csrf_token": fresh})
    assert response.status_code == 302


@pytest.mark.parametrize("variable", ["REGISTRY_SESSION_IDLE_MINUTES", "REGISTRY_SESSION_MAX_HOURS",
                                      "REGISTRY_CSRF_TIME_LIMIT_SECONDS", "REGISTRY_LOGIN_LOCK_AFTER",
                                      "REGISTRY_LOGIN_MAX_DELAY_SECONDS"])
@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_a_session_or_sign_in_setting_that_is_not_a_positive_number_stops_start_up(monkeypatch, tmp_path,
                                                                                  variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError, match=f"{variable}={value!r} must be a positive number"):
        config.load({"SECRET_KEY": "x" * 32}, instance_path=tmp_path)


def test_the_csrf_limit_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("REGISTRY_CSRF_TIME_LIMIT_SECONDS", "900")
    assert config.load({"SECRET_KEY": "x" * 32}, instance_path=tmp_path)["WTF_CSRF_TIME_LIMIT"] == 900


# --- throttling ------------------------------------------------------------------------------------------------

THROTTLE = {"LOGIN_FREE_ATTEMPTS": 2, "LOGIN_LOCK_AFTER": 4, "LOGIN_ADDRESS_FREE_ATTEMPTS": 100,
            "LOGIN_ADDRESS_LOCK_AFTER": 200}


def _age_failures(store, back: timedelta = timedelta(hours=1)) -> None:
    """Move every counted failure an hour back, past any delay (and well inside the 24 h memory)."""
    with store.write_session() as s:
        s.execute(update(LoginThrottle).values(last_failure_at=utcnow() - back))
        s.commit()


def _failed_just_now(store) -> None:
    # The next attempt must land inside a 1 s delay however slow the machine: restart the delay now.
    _age_failures(store, timedelta(0))


@pytest.fixture
def throttled_app(store_url):
    application = make_app(store_url, **THROTTLE)
    create_user(application.extensions["registry_store"], SYSTEM, "planner1", PASSWORD, ["planner"])
    yield application
    application.extensions["registry_store"].dispose()


@pytest.mark.parametrize("username", ["planner1", "nobody-here"])
def test_failures_slow_then_lock_an_account_name_until_an_admin_unlocks_it(throttled_app, username):
    store = throttled_app.extensions["registry_store"]
    client = throttled_app.test_client()
    answers = []
    first = login(client, username, "wrong-password-1")
    answers.append(first.status_code)
    assert "用户名或密码不正确" in first.get_data(as_text=True)
    answers.append(login(client, username, "wrong-password-2").status_code)
    _failed_just_now(store)
    waiting = login(client, username, "wrong-password-3")  # at once: the second failure asked for a wait
    answers.append(waiting.status_code)
    assert waiting.headers["Retry-After"] == "1"
    assert "秒后再试" in waiting.get_data(as_text=True)
    _age_failures(store)
    answers.append(login(client, username, "wrong-password-3").status_code)
    _age_failures(store)
    locked = login(client, username, "wrong-password-4")
    answers.append(locked.status_code)
    assert "已被锁定" in locked.get_data(as_text=True)
    _age_failures(store)
    answers.append(login(client, username, PASSWORD).status_code)  # the right password, but locked
    # A name that is no account gets exactly the same answers: the throttle tells no one which names exist.
    assert answers == [400, 400, 429, 400, 403, 403]
    failed = events(store, "login_failed")
    assert len(failed) == 4 and all(f"{username!r} from 127.0.0.1" in e.note for e in failed)
    assert not any("wrong-password" in (e.note or "") for e in failed)
    assert len(events(store, "login_locked")) == 1 and len(events(store, "login_refused")) == 2

    result = throttled_app.test_cli_runner().invoke(args=["users", "locked"])
    assert f"user:{username}  4 failures" in result.output
    result = throttled_app.test_cli_runner().invoke(args=["users", "unlock", username])
    assert result.exit_code == 0 and f"unlocked account {username}" in result.output
    assert len(events(store, "unlock")) == 1
    expected = 302 if username == "planner1" else 400
    assert login(client, username, PASSWORD).status_code == expected


def test_a_success_forgets_the_names_failures(throttled_app):
    client = throttled_app.test_client()
    login(client, password="wrong-password-1")
    assert login(client).status_code == 302
    client.post("/logout")
    login(client, password="wrong-password-1")
    assert login(client).status_code == 302, "one failure after a success is not the second in a row"


def test_one_address_trying_many_names_is_slowed_then_locked(gpkg_url):
    app = make_app(gpkg_url, LOGIN_FREE_ATTEMPTS=100, LOGIN_LOCK_AFTER=200, LOGIN_ADDRESS_FREE_ATTEMPTS=1,
                   LOGIN_ADDRESS_LOCK_AFTER=3)
    store = app.extensions["registry_store"]
    create_user(store, SYSTEM, "planner1", PASSWORD, ["planner"])
    attacker = {"REMOTE_ADDR": "10.0.0.66"}
    client = app.test_client()
    assert login(client, "user-a", "guess-one", environ_base=attacker).status_code == 400
    _failed_just_now(store)
    assert login(client, "user-b", "guess-two", environ_base=attacker).status_code == 429
    _age_failures(store)
    assert login(client, "user-b", "guess-two", environ_base=attacker).status_code == 400
    _age_failures(store)
    locked = login(client, "user-c", "guess-three", environ_base=attacker)
    assert locked.status_code == 403 and "来自您的地址" in locked.get_data(as_text=True)
    assert login(client, environ_base=attacker).status_code == 403
    assert login(app.test_client(), environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 302
    result = app.test_cli_runner().invoke(args=["users", "unlock", "--address", "10.0.0.66"])
    assert "unlocked address 10.0.0.66" in result.output
    assert login(client, environ_base=attacker).status_code == 302


def test_unlock_needs_a_name_or_an_address(app):
    result = app.test_cli_runner().invoke(args=["users", "unlock"])
    assert result.exit_code != 0 and "give NAME, --address ADDR or both" in result.output


def test_a_wrong_current_password_on_the_change_page_counts_as_a_failure(throttled_app):
    store = throttled_app.extensions["registry_store"]
    client = throttled_app.test_client()
    login(client)
    assert _change_password(client, current="not-my-password").status_code == 400
    assert _change_password(client, current="not-my-password-either").status_code == 400
    _failed_just_now(store)
    assert _change_password(client).status_code == 429
    assert [e.note for e in events(store, "login_failed")][-1].startswith("password change failed for 'planner1'")


# --- passwords -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("current, new, repeat, field, why, why_zh", [
    ("not-my-password", "a-brand-new-long-secret", None, "current_password", "is not this account", "不是此账户的密码"),
    (PASSWORD, "short-pass1", None, "new_password", "at least 12 characters", "至少需要 12 个字符"),
    (PASSWORD, "password1234", None, "new_password", "common passwords", "常用密码名单"),
    (PASSWORD, "Qwertyuiop!2024", None, "new_password", "common passwords", "常用密码名单"),
    (PASSWORD, "1qaz2wsx3edc", None, "new_password", "common passwords", "常用密码名单"),
    (PASSWORD, "1314520woaini!!", None, "new_password", "common passwords", "常用密码名单"),
    (PASSWORD, "2024-12-25 08:30", None, "new_password", "only digits and punctuation", "只有数字和符号"),
    (PASSWORD, "planner1-2024!", None, "new_password", "user name", "不能是用户名"),
    (PASSWORD, "abababababababab", None, "new_password", "too few different characters", "不同的字符太少"),
    (PASSWORD, "a-brand-new-long-secret", "a-brand-new-long-secreT", "repeat_password", "not the same",
     "两次输入的新密码不一致"),
    (PASSWORD, PASSWORD, None, "new_password", "differ from the current", "必须与当前密码不同"),
])
@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_a_refused_new_password_names_the_field_and_changes_nothing(any_app, planner, current, new, repeat,
                                                                   field, why, why_zh, lang):
    client = any_app.test_client()
    login(client)
    with client.session_transaction() as sess:
        sess["locale"] = lang
    response = _change_password(client, current=current, new=new, repeat=repeat)
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert f"<code>{field}</code>" in body and (why_zh if lang == "zh_CN" else why) in body
    if lang == "zh_CN":
        assert why not in body, "the Chinese page says the rule in Chinese"
    assert events(planner, "password_change") == []
    assert signed_in(client)
    other = any_app.test_client()
    assert login(other).status_code == 302, "the old password still works"


@pytest.mark.parametrize("password, why", [
    ("eleven-char", "at least 12 characters"),
    ("administrator2024", "common passwords"),
    ("longyan123456", "common passwords"),
])
def test_new_accounts_follow_the_same_password_rules(store, password, why):
    with pytest.raises(InvalidInput, match=why) as info:
        create_user(store, SYSTEM, "someone", password, ["planner"])
    assert info.value.field == "password"
    with store.session() as s:
        assert s.scalar(select(User.id).where(User.username == "someone")) is None


def test_the_change_page_needs_a_login(client):
    response = client.get("/account/password")
    assert response.status_code == 302 and "/login?next=/account/password" in response.headers["Location"]


def test_a_one_time_password_must_be_changed_before_anything_else(any_app, planner):
    result = any_app.test_cli_runner().invoke(args=["users", "reset-password", "planner1"])
    assert result.exit_code == 0, result.output
    one_time = result.output.strip().splitlines()[-1]
    assert len(one_time) >= 12 and one_time not in events(planner, "password_reset")[0].after.values()
    client = any_app.test_client()
    assert login(client).status_code == 400, "the old password is gone"
    response = login(client, password=one_time)
    assert response.status_code == 302 and response.headers["Location"].endswith("/account/password")
    blocked = client.get("/history")
    assert blocked.status_code == 302 and blocked.headers["Location"].endswith("/account/password")
    api = client.get("/ogc/collections", headers={"Accept": "application/json"})
    assert api.status_code == 403 and api.get_json()["field"] == "new_password"
    assert _change_password(client, current=one_time).status_code == 302
    assert signed_in(client)
    assert login(any_app.test_client(), password=one_time).status_code == 400
    assert login(any_app.test_client(), password="a-brand-new-long-secret").status_code == 302


def test_an_admin_reset_lifts_a_lock(throttled_app):
    client = throttled_app.test_client()
    store = throttled_app.extensions["registry_store"]
    for attempt in range(4):
        login(client, password=f"wrong-password-{attempt}")
        _age_failures(store)
    assert login(client).status_code == 403
    result = throttled_app.test_cli_runner().invoke(args=["users", "reset-password", "planner1"])
    assert login(client, password=result.output.strip().splitlines()[-1]).status_code == 302


def test_reset_password_of_an_unknown_user_is_refused(app):
    result = app.test_cli_runner().invoke(args=["users", "reset-password", "ghost"])
    assert result.exit_code != 0 and "no active user named 'ghost'" in result.output


# --- redirects -------------------------------------------------------------------------------------------------

# Each is sent as written in the URL (already percent-encoded where it shows %).
OFF_SITE = [
    "//evil.example",
    "//evil.example/%2e%2e",
    "/%09/evil.example",
    "/%2509/evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "evil.example",
    "/%5Cevil.example",
    "/%5C%5Cevil.example",
    "/%252F%252Fevil.example",
    "/%0D%0ASet-Cookie:%20x=1",
    "/history%0A",
    "/%E2%80%AEhistory",
    "/./..//evil.example",
    "/history/../..//evil.example",
    "%20//evil.example",
    "/x" + "y" * 2000,
]


@pytest.mark.parametrize("target", OFF_SITE)
@pytest.mark.parametrize("path", ["/login", "/lang/en"])
def test_an_off_site_or_odd_next_is_refused_with_400_naming_it(app, gpkg_planner, path, target):
    client = app.test_client()
    response = client.get(f"{path}?next={target}")
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "<code>next</code>" in body and "must be a path on this site" in body
    assert "Location" not in response.headers
    with client.session_transaction() as sess:
        assert "locale" not in sess, "nothing is stored"


@pytest.mark.parametrize("target", ["//evil.example", "/%09/evil.example", "/%0D%0Ax"])
def test_signing_in_with_an_off_site_next_is_refused_before_any_sign_in(app, gpkg_planner, target):
    client = app.test_client()
    response = client.post(f"/login?next={target}", data={"username": "planner1", "password": PASSWORD})
    assert response.status_code == 400 and "Location" not in response.headers
    assert not signed_in(client) and events(gpkg_planner, "login") == []


@pytest.mark.parametrize("target, location", [
    ("/history", "/history"),
    ("/?q=%E7%83%88%E5%A3%AB", "/?q=%E7%83%88%E5%A3%AB"),
    ("/%3Fq%3Da%252Fb", "/?q=a%2Fb"),  # an encoded slash in the query (as the language links send) is data
    ("", "/"),
])
def test_a_same_site_next_is_followed(app, gpkg_planner, target, location):
    client = app.test_client()
    response = client.post(f"/login?next={target}", data={"username": "planner1", "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == location
    response = client.get(f"/lang/en?next={target}")
    assert response.status_code == 302 and response.headers["Location"] == location


@pytest.mark.parametrize("referrer", ["http://localhost//evil.example/", "http://localhost/%5C%5Cevil.example",
                                      "https://evil.example/history"])
def test_an_odd_referrer_falls_back_to_home(client, referrer):
    response = client.get("/lang/en", headers={"Referer": referrer})
    assert response.status_code == 302 and response.headers["Location"] == "/"


def test_a_same_site_referrer_is_followed(client):
    response = client.get("/lang/en", headers={"Referer": "http://localhost/facilities?q=1"})
    assert response.headers["Location"] == "/facilities?q=1"


# --- the administrators' accounts page -------------------------------------------------------------------------


@pytest.fixture
def admin_client(throttled_app):
    create_user(throttled_app.extensions["registry_store"], SYSTEM, "boss", "administrator-pass", ["admin"])
    client = throttled_app.test_client()
    assert login(client, "boss", "administrator-pass").status_code == 302
    return client


def _lock(app, username="planner1", address="127.0.0.1"):
    store, client = app.extensions["registry_store"], app.test_client()
    for attempt in range(THROTTLE["LOGIN_LOCK_AFTER"]):
        login(client, username, f"wrong-password-{attempt}", environ_base={"REMOTE_ADDR": address})
        _age_failures(store)
    assert login(client, username, environ_base={"REMOTE_ADDR": address}).status_code == 403


def test_only_an_admin_opens_the_accounts_page(throttled_app):
    client = throttled_app.test_client()
    login(client)
    assert client.get("/admin/accounts").status_code == 403
    assert client.post("/admin/accounts/planner1/reset").status_code == 403
    assert login(throttled_app.test_client(), password="a-brand-new-long-secret").status_code == 400
    assert len(events(throttled_app.extensions["registry_store"], "forbidden")) == 2
    assert events(throttled_app.extensions["registry_store"], "password_reset") == []


def test_an_admin_sees_a_lock_and_lifts_it_on_the_page(throttled_app, admin_client):
    _lock(throttled_app, address="10.1.1.1")
    page = admin_client.get("/admin/accounts").get_data(as_text=True)
    assert "user:planner1" in page and "已锁定" in page
    response = admin_client.post("/admin/accounts/planner1/unlock")
    assert response.status_code == 303
    assert "user:planner1" not in admin_client.get("/admin/accounts").get_data(as_text=True)
    assert login(throttled_app.test_client(), environ_base={"REMOTE_ADDR": "10.1.1.1"}).status_code == 302
    assert events(throttled_app.extensions["registry_store"], "unlock")[0].actor_name == "boss"


@pytest.mark.parametrize("address", ["", "not-an-address", "10.0.0.1; DROP TABLE users", "1" * 300])
def test_unlocking_a_bad_address_is_refused_by_name(throttled_app, admin_client, address):
    response = admin_client.post("/admin/accounts/unlock-address", data={"address": address})
    assert response.status_code == 400
    assert "<code>address</code>" in response.get_data(as_text=True)
    assert events(throttled_app.extensions["registry_store"], "unlock") == []


def test_an_admin_reset_shows_the_one_time_password_once(throttled_app, admin_client):
    owner = throttled_app.test_client()
    login(owner)
    response = admin_client.post("/admin/accounts/planner1/reset")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    one_time = re.search(r'<code class="one-time-password">([^<]+)</code>', response.get_data(as_text=True)).group(1)
    assert "one-time-password" not in admin_client.get("/admin/accounts").get_data(as_text=True)
    assert not signed_in(owner), "the reset ended the owner's session"
    assert login(owner, password=one_time).headers["Location"].endswith("/account/password")
    assert events(throttled_app.extensions["registry_store"], "password_reset")[0].actor_name == "boss"


def test_resetting_an_unknown_account_is_refused_by_name(admin_client):
    response = admin_client.post("/admin/accounts/ghost/reset")
    assert response.status_code == 400 and "<code>username</code>" in response.get_data(as_text=True)


def test_failures_older_than_the_memory_are_forgotten_but_a_lock_is_not(throttled_app):
    store = throttled_app.extensions["registry_store"]
    client = throttled_app.test_client()
    login(client, password="wrong-password-1")
    login(client, password="wrong-password-2")
    _age_failures(store, timedelta(hours=25))
    login(client, password="wrong-password-3")
    assert login(client).status_code == 302, "two failures a day ago and one now are one failure, no wait"
    _lock(throttled_app)
    _age_failures(store, timedelta(hours=25))
    assert login(client).status_code == 403, "a lock waits for an administrator"
