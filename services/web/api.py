"""Calls to the node's services on behalf of the person reading the page: with their access token, and with the
page's trace context (so one trace follows a click through the services)."""

from typing import Any

import httpx

from services.web.settings import WebSettings
from shared.tracing import current_traceparent

SERVICES = ("catalogue", "enrolment", "assessment", "certification", "notifications")


class ServiceRefused(Exception):
    """A service answered 4xx: `detail` is what it said (shown to the person: the services say why in plain words)."""

    def __init__(self, service: str, status: int, detail: str, body: Any = None) -> None:
        super().__init__(f"{service} answered {status}: {detail}")
        self.service, self.status, self.detail = service, status, detail
        # What the service answered, as JSON (None when it was not): for pages that show a structured refusal.
        self.body = body

    @property
    def errors(self) -> list[dict[str, Any]]:
        """FastAPI's validation errors (and the catalogue's policy rules, the same shape), each with `loc` and `msg`,
        for a form that shows each next to its field; empty for other refusals."""
        detail = self.body.get("detail") if isinstance(self.body, dict) else None
        return [item for item in detail if isinstance(item, dict)] if isinstance(detail, list) else []


class ServiceUnavailable(Exception):
    """A service did not answer, or failed (5xx)."""

    def __init__(self, service: str, why: str) -> None:
        super().__init__(f"{service}: {why}")
        self.service = service


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500] or response.reason_phrase
    detail = body.get("detail", body) if isinstance(body, dict) else body
    if isinstance(detail, list):  # FastAPI's validation errors: each names the field and the rule.
        return "; ".join(
            f"{'.'.join(str(part) for part in item.get('loc', [])[1:])}: {item.get('msg')}" if isinstance(item, dict)
            else str(item)
            for item in detail
        )
    return str(detail)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


class NodeApi:
    """One page's calls: as the signed-in person (their bearer token), or anonymously."""

    def __init__(self, http: httpx.AsyncClient, settings: WebSettings, token: str | None) -> None:
        self.http, self.token = http, token
        self.urls = {name: getattr(settings, f"{name}_url").rstrip("/") for name in SERVICES}

    async def call(
        self, method: str, service: str, path: str, *, params: dict[str, Any] | None = None,
        json: Any = None, content: bytes | None = None, headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """The response when the service said yes (2xx); ServiceRefused for a 4xx, ServiceUnavailable otherwise."""
        sent = dict(headers or {})
        if self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        if traceparent := current_traceparent():
            sent["traceparent"] = traceparent
        try:
            response = await self.http.request(
                method, f"{self.urls[service]}{path}", params=params, json=json, content=content, headers=sent
            )
        except httpx.HTTPError as error:
            raise ServiceUnavailable(service, f"no answer ({type(error).__name__})") from error
        if response.status_code >= 500:
            raise ServiceUnavailable(service, f"answered {response.status_code}")
        if response.status_code >= 400:
            raise ServiceRefused(service, response.status_code, _detail(response), _json(response))
        return response

    async def get(self, service: str, path: str, **params: Any) -> Any:
        present = {name: value for name, value in params.items() if value is not None and value != ""}
        return (await self.call("GET", service, path, params=present)).json()

    async def post(self, service: str, path: str, body: Any = None) -> Any:
        return (await self.call("POST", service, path, json=body)).json()

    async def put(self, service: str, path: str, body: Any = None) -> Any:
        return (await self.call("PUT", service, path, json=body)).json()
