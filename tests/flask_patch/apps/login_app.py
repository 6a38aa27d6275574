"""Flask-Login example: a login view, a protected view, the remember-me cookie and logout, through the patch."""

import sockweb.flask_patch  # noqa: F401  (first: flask and werkzeug resolve to sockweb)
from flask import Flask, request
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user

app = Flask(__name__)
app.secret_key = "example only"
login = LoginManager(app)


class User(UserMixin):
    def __init__(self, user_id):
        self.id = user_id


@login.user_loader
def load_user(user_id):
    return User(user_id) if user_id == "ada" else None


@app.post("/login")
def do_login():
    login_user(User(request.form["name"]), remember=True)
    return "in"


@app.get("/me")
@login_required
def me():
    return current_user.id


@app.get("/logout")
def do_logout():
    logout_user()
    return "out"


client = app.test_client()
assert client.get("/me").status_code == 401
assert client.post("/login", data={"name": "ada"}).get_data(as_text=True) == "in"
assert client.get("/me").get_data(as_text=True) == "ada"
client.get("/logout")
assert client.get("/me").status_code == 401
print("ok")
