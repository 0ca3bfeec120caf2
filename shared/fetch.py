"""Fetching a small JSON document from another party (an identity provider, a member's node) without trusting it:
no redirects, no proxy from the environment (only the host asked is contacted), the whole exchange within a timeout,
the answer within a size limit, and a JSON object or nothing. Each failure names the URL and what went wrong.
"""

import asyncio
import json
from typing import Any

import httpx

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


class FetchFailed(Exception):
    """A document not fetched, or not a JSON object: `reason` is a metric's label (unavailable, timeout, too-large,
    not-json, media-type), the message says which URL and why."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def http_client(timeout: float) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,  # a redirect could lead to a host nobody vouched for
        trust_env=False,  # nor a proxy from the environment: only the host asked is contacted
        headers={"Accept-Encoding": "identity"},  # the size limit counts what arrives, no decompression bomb
    )


async def get_json(
    client: httpx.AsyncClient, url: str, limit: int, timeout: float, media_types: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """GET `url`: a JSON object of at most `limit` bytes (of one of `media_types`, when given) within `timeout`."""
    headers = {"Accept": ", ".join(media_types)} if media_types else {"Accept": "application/json"}
    try:
        async with asyncio.timeout(timeout):
            async with client.stream("GET", url, headers=headers) as response:
                if response.status_code != 200:
                    raise FetchFailed("unavailable", f"GET {url} answered {response.status_code}")
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise FetchFailed("too-large", f"GET {url}: the answer is {declared} bytes, more than {limit}")
                media_type = response.headers.get("content-type", "").partition(";")[0].strip().lower()
                if media_types and media_type not in media_types:
                    raise FetchFailed(
                        "media-type", f"GET {url} answered {media_type or 'no media type'}, not {' or '.join(media_types)}"
                    )
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    body += chunk
                    if len(body) > limit:
                        raise FetchFailed("too-large", f"GET {url}: the answer is larger than {limit} bytes")
    except (TimeoutError, httpx.TimeoutException):
        raise FetchFailed("timeout", f"GET {url} took longer than {timeout:g} s") from None
    except httpx.HTTPError as error:
        raise FetchFailed("unavailable", f"GET {url} failed: {type(error).__name__}: {error}") from None
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        raise FetchFailed("not-json", f"GET {url} answered something that is not JSON") from None
    if not isinstance(document, dict):
        raise FetchFailed("not-json", f"GET {url} answered a JSON {type(document).__name__}, not an object")
    return document
