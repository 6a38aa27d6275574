"""Flask-SQLAlchemy example: models, a session commit per request and pagination, through the patch."""

import sockweb.flask_patch  # noqa: F401  (first: flask and werkzeug resolve to sockweb)
from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
db = SQLAlchemy(app)


class Note(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    text = db.Column(db.String(80), nullable=False)


@app.post("/notes")
def add():
    note = Note(text=request.form["text"])
    db.session.add(note)
    db.session.commit()
    return jsonify(id=note.id), 201


@app.get("/notes")
def notes():
    page = db.paginate(db.select(Note).order_by(Note.id), per_page=10)
    return jsonify([n.text for n in page.items])


with app.app_context():
    db.create_all()
client = app.test_client()
assert client.post("/notes", data={"text": "a"}).status_code == 201
assert client.post("/notes", data={"text": "b"}).get_json() == {"id": 2}
assert client.get("/notes").get_json() == ["a", "b"]
print("ok")
