"""`make fuzz`: schemathesis, every phase, against a live Hookline on a loopback port.

The server is the real API behind the real HTTP server (`hookline.api.serving`), over SQLite,
with real resources to reach past the 404s. It runs in this process rather than as
`hookline serve` for one reason: its sender delivers to loopback only (generated endpoint
URLs name any host, and nothing may leave this machine, not even a DNS lookup).

    python -m tests.fuzz.live [extra `st run` options]
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import tempfile
from pathlib import Path

from hookline.runtime import Runtime
from tests.support.api import ADMIN_TOKEN, ApiServer, make_settings
from tests.support.fuzzing import LoopbackOnlySender, real_resources
from tests.support.receiver import Receiver

CONFIG = Path(__file__).with_name("schemathesis.toml")
SCHEMATHESIS = Path(sys.executable).with_name("st")


async def fuzz(options: list[str]) -> int:
    with tempfile.TemporaryDirectory(prefix="hookline-fuzz-") as tmp:
        settings = make_settings(f"sqlite:///{tmp}/fuzz.db", Path(tmp))
        runtime = await Runtime.start(settings, sender=LoopbackOnlySender(settings))
        await runtime.service.ensure_admin_token()
        receiver = await Receiver().start()
        api = await ApiServer(runtime, ADMIN_TOKEN).start()
        try:
            _, app_token = await real_resources(api, receiver)
            env = {**os.environ, "HOOKLINE_FUZZ_ADMIN_TOKEN": ADMIN_TOKEN,
                   "HOOKLINE_FUZZ_APP_TOKEN": app_token}
            schemathesis = await asyncio.create_subprocess_exec(
                str(SCHEMATHESIS), "--config-file", str(CONFIG), "run",
                f"{api.base_url}/openapi.json", *options, env=env)
            return await schemathesis.wait()
        finally:
            await api.stop()
            await receiver.stop()
            await runtime.stop()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="server: %(levelname)s %(name)s: "
                                                      "%(message)s")
    sys.exit(asyncio.run(fuzz(sys.argv[1:])))


if __name__ == "__main__":
    main()
