"""`hookline listen` as a partner would run it, with Hookline delivering to it."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

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


async def test_listen_verifies_and_summarises_what_hookline_delivers(
    runtime: Runtime, tmp_path: Path
) -> None:
    secret = generate_secret()
    port = free_port()
    out = tmp_path / "listen.out"
    with out.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hookline.cli", "listen", "--port", str(port),
             "--secret", secret], stdout=sink, stderr=subprocess.STDOUT)
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
        lines = [line for line in text.splitlines() if msg.id in line]
        assert len(lines) == 2, text
        good = next(line for line in lines if "NOT VERIFIED" not in line)
        assert "invoice.paid" in good and "bytes" in good

        # The listener printed its lines before answering; wait for both outcomes recorded.
        attempts = await attempts_recorded(runtime.service, app.id, 2, message_id=msg.id)
        codes = sorted(a.status_code or 0 for a in attempts)
        assert codes[0] // 100 == 2 and codes[1] == 401
    finally:
        proc.terminate()
        proc.wait(10)
