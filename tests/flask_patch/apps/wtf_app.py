"""Flask-WTF example: a form with CSRF protection and validation, through the patch."""

import re

import sockweb.flask_patch  # noqa: F401  (first: flask and werkzeug resolve to sockweb)
from flask import Flask, render_template_string
from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired

app = Flask(__name__)
app.secret_key = "example only"


class NameForm(FlaskForm):
    name = StringField("name", validators=[DataRequired()])


@app.route("/", methods=["GET", "POST"])
def index():
    form = NameForm()
    if form.validate_on_submit():
        return f"hello {form.name.data}"
    return render_template_string("<form method=post>{{ form.csrf_token }}{{ form.name }}</form>", form=form)


client = app.test_client()
page = client.get("/").get_data(as_text=True)
token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
assert client.post("/", data={"name": "ada"}).status_code == 200  # no token: the form is shown again
assert "hello" not in client.post("/", data={"name": "ada"}).get_data(as_text=True)
assert client.post("/", data={"name": "ada", "csrf_token": token}).get_data(as_text=True) == "hello ada"
print("ok")
