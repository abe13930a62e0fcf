"""An application-factory Flask app whose config holds references, with Flask-SQLAlchemy.

Run it with ``flask --app examples.flask_app.app run``; list its references with
``flask --app examples.flask_app.app awsrefs check``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from awsrefs_flask import AwsRefs
from flask import Flask, current_app
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import text

db = SQLAlchemy()
refs = AwsRefs()


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_pyfile(str(Path(__file__).with_name("settings.py")))
    app.config.from_prefixed_env()  # FLASK_* variables, references allowed
    if test_config:
        app.config.update(test_config)
    refs.init_app(app)  # resolves every reference in app.config, in one batch
    db.init_app(app)  # after refs: it reads the resolved SQLALCHEMY_* keys

    @app.get("/")
    def index() -> dict[str, Any]:
        user = db.session.execute(text("SELECT current_user")).scalar_one()
        return {"database_user": user, "support": current_app.config["SUPPORT_EMAIL"]}

    return app
