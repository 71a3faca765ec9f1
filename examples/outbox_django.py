"""Publish webhooks from a Django application inside `transaction.atomic`, as a single-file
project: an order and its `order.created` event commit together or not at all.

    pip install -e '.[outbox]' django
    DATABASE_URL=postgresql://app@127.0.0.1/shop python examples/outbox_django.py 8002
    hookline relay --source postgresql://app@127.0.0.1/shop --to http://127.0.0.1:8000 --token ...

In a real project add "hookline.outbox.django" to INSTALLED_APPS and run `manage.py migrate`
(this file does the same at start). POST /orders {"item": "book"} stores the order and its
event; with "fail": true the view raises after both writes and nothing is ever sent.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from socketserver import ThreadingMixIn
from typing import Any
from urllib.parse import parse_qs, urlsplit
from wsgiref.simple_server import WSGIServer, make_server

import django
from django.conf import settings
from django.urls import URLPattern, path

from hookline import outbox

urlpatterns: list[URLPattern] = []


def database(url: str) -> dict[str, Any]:
    """Django's DATABASES entry for postgresql://user@host:port/db[?search_path=s] or
    sqlite:///path."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": parts.path.removeprefix("/")}
    schema = parse_qs(parts.query).get("search_path")
    return {"ENGINE": "django.db.backends.postgresql", "NAME": parts.path.lstrip("/"),
            "USER": parts.username or "", "PASSWORD": parts.password or "",
            "HOST": parts.hostname or "", "PORT": str(parts.port or ""),
            "OPTIONS": {"options": f"-c search_path={schema[0]}"} if schema else {}}


def setup() -> None:
    settings.configure(
        DEBUG=False, SECRET_KEY=secrets.token_urlsafe(32), ALLOWED_HOSTS=["127.0.0.1"],
        ROOT_URLCONF=__name__, MIDDLEWARE=[], INSTALLED_APPS=["hookline.outbox.django"],
        DATABASES={"default": database(os.environ.get("DATABASE_URL", "sqlite:///shop.db"))})
    django.setup()
    from django.core.management import call_command
    from django.db import connection, models, transaction
    from django.http import HttpRequest, HttpResponse, JsonResponse
    from django.views.decorators.csrf import csrf_exempt

    class Order(models.Model):
        item = models.CharField(max_length=100)

        class Meta:
            app_label = "shop"

    @csrf_exempt
    def create_order(request: HttpRequest) -> HttpResponse:
        new = json.loads(request.body)
        try:
            with transaction.atomic():
                order = Order.objects.create(item=new["item"])
                outbox.publish(connection, "shop", "order.created",
                               {"order": order.id, "item": new["item"]},
                               ordering_key=f"order-{order.id}")
                if new.get("fail"):  # takes the order and its event with it
                    raise RuntimeError("the order could not be completed")
        except RuntimeError as exc:
            return JsonResponse({"detail": str(exc)}, status=500)
        return JsonResponse({"id": order.id}, status=201)

    urlpatterns.append(path("orders", create_order))
    call_command("migrate", "hookline_outbox", verbosity=0)  # the outbox table
    if Order._meta.db_table not in connection.introspection.table_names():
        with connection.schema_editor() as editor:
            editor.create_model(Order)


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def main() -> None:
    port = int(sys.argv[1] if len(sys.argv) > 1 else "8002")
    setup()
    from django.core.wsgi import get_wsgi_application

    server = make_server("127.0.0.1", port, get_wsgi_application(),
                         server_class=ThreadingWSGIServer)
    print(f"shop on http://127.0.0.1:{port}/orders", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
