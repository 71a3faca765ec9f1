"""`hookline listen` as a partner would run it, with Hookline delivering to it; its help and
`portal-link`'s, in the style of every other command."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from hookline.cli import main
from hookline.models import DeliveryOptions
from hookline.runtime import Runtime
from hookline.signing import generate_secret
from tests.support.net import free_port
from tests.support.polling import attempts_recorded, wait_until_blocking


def read_until(path: Path, needle: str, proc: subprocess.Popen[bytes], timeout: float = 15.0
               ) -> str:
    def printed() -> str | None:
        text = path.read_text(errors="replace")
        if needle not in text and proc.poll() is not None:
            raise AssertionError(f"listen exited before printing {needle!r}:\n{text}")
        return text if needle in text else None

    result: str = wait_until_blocking(printed, timeout, f"{needle!r} printed")
    return result


async def test_listen_verifies_with_the_secret_from_its_environment_and_prints_everything(
    runtime: Runtime, tmp_path: Path
) -> None:
    secret = generate_secret()
    port = free_port()
    out = tmp_path / "listen.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hookline.cli", "listen", "--port", str(port), "--verbose"],
            stdout=sink, stderr=subprocess.STDOUT,
            env={**os.environ, "HOOKLINE_LISTEN_SECRET": secret})
    try:
        await asyncio.to_thread(read_until, out, str(port), proc)
        svc = runtime.service
        app = await svc.create_app("partner")
        url = f"http://127.0.0.1:{port}/webhooks"
        await svc.create_endpoint(app.id, url=url, secret=secret)
        await svc.create_endpoint(app.id, url=url, secret=generate_secret(),
                                  options=DeliveryOptions(retry_schedule=[]))
        msg = (await svc.publish(app.id, "invoice.paid", {"amount": 42})).message

        text = await asyncio.to_thread(read_until, out, "NOT VERIFIED", proc)
        text = await asyncio.to_thread(read_until, out, " verified", proc)
        lines = [line for line in text.splitlines()
                 if msg.id in line and not line.startswith(" ")]
        assert len(lines) == 2, text
        good = next(line for line in lines if "NOT VERIFIED" not in line)
        assert "invoice.paid" in good and "bytes" in good
        # --verbose: every header and the body, indented under the summary line.
        details = text.split(good, 1)[1]
        assert f"    webhook-id: {msg.id}" in details and "    user-agent: Hookline/" in details
        assert "    content-type: application/json" in details
        body = details.split("\n\n", 1)[1].splitlines()[0]
        assert json.loads(body)["data"] == {"amount": 42}

        # The listener printed its lines before answering; wait for both outcomes recorded.
        attempts = await attempts_recorded(runtime.service, app.id, 2, message_id=msg.id)
        codes = sorted(a.status_code or 0 for a in attempts)
        assert codes[0] // 100 == 2 and codes[1] == 401
    finally:
        proc.terminate()
        proc.wait(10)


def test_listen_and_portal_link_help_read_like_every_other_command() -> None:
    runner = CliRunner()
    listen = runner.invoke(main, ["listen", "--help"], prog_name="hookline")
    link = runner.invoke(main, ["portal-link", "--help"], prog_name="hookline")
    serve = runner.invoke(main, ["serve", "--help"], prog_name="hookline")

    for result in (listen, link, serve):
        assert result.exit_code == 0 and result.output.startswith("Usage: hookline ")
        assert "Options:" in result.output and "--help" in result.output
    assert "--verbose" in listen.output and "HOOKLINE_LISTEN_SECRET" in listen.output
    assert "60<=x<=604800" in link.output
