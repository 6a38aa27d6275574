"""An unmodified Flask application: a page, JSON, a form post, a 404."""

from flask import Flask, jsonify, request

app = Flask(__name__)


@app.get("/")
def index():
    return "<h1>Flask on sockweb</h1>"


@app.get("/json/<int:n>")
def as_json(n):
    return jsonify(n=n, double=n * 2, args=request.args.to_dict())


@app.post("/form")
def form():
    return f"hello {request.form['name']}, {len(request.files['upload'].read())} bytes"
