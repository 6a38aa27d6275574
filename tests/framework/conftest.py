from __future__ import annotations

import pytest

from sockweb.framework import App


@pytest.fixture
def app(tmp_path) -> App:
    application = App("test_app", root_path=str(tmp_path))
    application.config.update(TESTING=True, SECRET_KEY="test secret")
    return application


@pytest.fixture
def client(app: App):
    return app.test_client()
