"""Receive Hookline webhooks in Django, as a single-file project.

    pip install -e .            # from the Hookline checkout, for hookline.receiver
    HOOKLINE_SECRET=whsec_... python examples/django_receiver.py 8000

POST /webhooks verifies the signature (401 if it does not match), handles each event id once
(set HOOKLINE_DEDUPE_DB=path.db to share de-duplication between processes) and answers 204.
CSRF protection is on, as in any Django project: the decorator exempts the webhook view.
In a real project, put the view in views.py and read the secret from settings.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIServer, make_server

from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest
from django.urls import URLPattern, path

from hookline.receiver import MemoryStore, SqliteStore
from hookline.receiver.django import webhook

urlpatterns: list[URLPattern] = []


def add_webhook_route(secret: str, db: str | None) -> None:
    @webhook(secret, dedupe=SqliteStore(db) if db else MemoryStore())
    def receive(request: HttpRequest, event: Any) -> None:
        # Keep this fast: hand long work to a queue and answer, or the sender times out and
        # retries. Raising here releases the event id so that retry runs it again.
        print(f"handled {event.get('type')} {json.dumps(event.get('data'))}", flush=True)

    urlpatterns.append(path("webhooks", receive))


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def main() -> None:
    secret = os.environ.get("HOOKLINE_SECRET")
    if not secret:
        sys.exit("set HOOKLINE_SECRET to the endpoint's signing secret (whsec_...)")
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", "8000"))
    settings.configure(
        DEBUG=False,
        SECRET_KEY=secrets.token_urlsafe(32),
        ALLOWED_HOSTS=["127.0.0.1", "localhost"],
        ROOT_URLCONF=__name__,
        MIDDLEWARE=[
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
        ],
    )
    add_webhook_route(secret, os.environ.get("HOOKLINE_DEDUPE_DB"))
    server = make_server("127.0.0.1", port, get_wsgi_application(),
                         server_class=ThreadingWSGIServer)
    print(f"Django receiver on http://127.0.0.1:{port}/webhooks", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
