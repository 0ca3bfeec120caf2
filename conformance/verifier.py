"""Digital Bazaar's verifier with only the standard contexts (tools/vc-verifier): an independent judge of a node's
credentials, status lists and the DID documents it resolves from the node."""

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

VERIFY = Path(__file__).resolve().parent.parent / "tools" / "vc-verifier" / "verify.mjs"


async def verify(credential: dict[str, Any]) -> dict[str, Any]:
    """Its verdict: {"verified": bool, "errors": [...], "status": {...}, "endorsements": [...]}."""
    node = shutil.which("node")
    if node is None or not (VERIFY.parent / "node_modules").is_dir():
        return {"verified": False, "errors": [
            "the independent verifier is not installed: Node.js 20+ and `npm ci --prefix tools/vc-verifier`"
        ]}
    process = await asyncio.create_subprocess_exec(
        node, str(VERIFY), stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(json.dumps(credential).encode()), timeout=120)
    except TimeoutError:
        process.kill()
        return {"verified": False, "errors": ["the verifier did not answer within 120 s"]}
    lines = stdout.decode().strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, ValueError):
        return {"verified": False, "errors": [f"the verifier said nothing readable: {stderr.decode()[-2000:]}"]}
