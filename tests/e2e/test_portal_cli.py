"""`hookline portal-link APP` prints a working signed link for local use."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from hookline.runtime import Runtime
from hookline.tokens import PORTAL_KEY_LABEL, verify_portal_token
from tests.support.api import make_settings


async def test_portal_link_prints_a_link_signed_for_the_application(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path}/hookline.db", tmp_path,
                             public_url="https://hooks.example.com")
    runtime = await Runtime.start(settings, with_worker=False)
    try:
        app = await runtime.service.create_app("Acme", uid="acme")
        key = runtime.service.box.derive(PORTAL_KEY_LABEL)
    finally:
        await runtime.stop()
    env = {**os.environ, "HOOKLINE_DATABASE_URL": settings.database_url,
           "HOOKLINE_SECRET_KEY": str(settings.secret_key), "HOOKLINE_DATA_DIR": str(tmp_path),
           "HOOKLINE_PUBLIC_URL": "https://hooks.example.com"}
    cli = Path(sys.executable).with_name("hookline")

    process = await asyncio.create_subprocess_exec(
        str(cli), "portal-link", "acme", "--ttl", "600", env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)

    assert process.returncode == 0, err.decode()
    link = urlsplit(out.decode().strip())
    assert (link.scheme, link.netloc, link.path) == ("https", "hooks.example.com",
                                                     "/portal/access")
    token = parse_qs(link.query)["token"][0]
    assert verify_portal_token(key, token, time.time()) == app.id
    assert verify_portal_token(key, token, time.time() + 590) == app.id


def test_portal_link_help_shows_the_ttl_range() -> None:
    from click.testing import CliRunner

    from hookline.cli import main

    result = CliRunner().invoke(main, ["portal-link", "--help"])

    assert result.exit_code == 0
    assert "60<=x<=604800" in result.output
