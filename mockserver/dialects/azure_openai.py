"""Azure OpenAI's images API (contracts/azure.yaml): OpenAI's generations and edits under
``/openai/deployments/{deployment}/images/...?api-version=...``, as openai_generation.py answers them.

Azure checks the ``api-version`` first (missing or not one it serves: its 404 "Resource not found",
deployment-free: deepchat#262, MicrosoftDocs/azure-docs#114602), then the key (``api-key``, or ``Authorization:
Bearer``; its 401 in Azure's own envelope ``{"error": {"code", "message"}}``), then the deployment: here each of
the contract's models is deployed under its own name, and any other name is Azure's 404 ``DeploymentNotFound``.
The body's errors are OpenAI's, which Azure relays; a prompt its content filter stops is Azure's 400 with
``inner_error`` and ``content_filter_results`` (BerriAI/litellm#16072, #19372 quote it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING

from starlette.responses import Response

from ..pipeline.endpoint import Call, Reject
from ..pipeline.routing import Profile, ServiceRoute
from ..wire.jsonio import JSONResponse
from .openai_edits import edited
from .openai_generation import (
    FAULTS,
    Generation,
    Opening,
    Refusals,
    generation_of,
    json_body,
    models_of,
    opened,
    respond,
    server_error,
)

if TYPE_CHECKING:
    from ..state import State

GENERATIONS = "/openai/deployments/{deployment}/images/generations"
EDITS = "/openai/deployments/{deployment}/images/edits"
# The GA and preview versions of the data-plane API that have the images operations.
API_VERSIONS = frozenset({"2024-02-01", "2024-06-01", "2024-10-21", "2025-04-01-preview", "2025-03-01-preview",
                          "2024-12-01-preview", "2024-10-01-preview", "preview"})  # fmt: skip
MISSING_KEY = ("Access denied due to missing subscription key. Make sure to include subscription key when making "
               "requests to an API.")  # fmt: skip
UNKNOWN_KEY = ("Access denied due to invalid subscription key or wrong API endpoint. Make sure to provide a valid "
               "key for an active subscription and use a correct regional API endpoint for your resource.")  # fmt: skip
NO_DEPLOYMENT = ("The API deployment for this resource does not exist. If you created the deployment within the "
                 "last 5 minutes, please wait a moment and try again.")  # fmt: skip
FILTERED = ("Your request was rejected as a result of our safety system. Your prompt may contain text that is not "
            "allowed by our safety system.")  # fmt: skip
FILTER_CATEGORIES = ("hate", "self_harm", "sexual", "violence")
RETRY_AFTER_SECONDS = 60


def error(
    profile: Profile, status: int, message: str, headers: Mapping[str, str] | None = None, code: str | None = None
) -> Response:
    """Azure's own envelope, for what Azure refuses before OpenAI's model sees the request."""
    return JSONResponse(
        {"error": {"code": code or str(status), "message": message}}, status, headers=dict(headers or {})
    )


def routes(profile: Profile, state: State) -> list[ServiceRoute]:
    return [ServiceRoute("POST", GENERATIONS, generate, FAULTS), ServiceRoute("POST", EDITS, edit, FAULTS)]


async def generate(call: Call) -> Response:
    opening = await opened_on_azure(call)
    body = json_body(call)
    fields = {**body, "model": deployment(call)} if isinstance(body, dict) else body
    return await respond(call, opening, generation_of(call, fields), AZURE_REFUSALS)


async def edit(call: Call) -> Response:
    opening = await opened_on_azure(call)
    return await edited(call, opening, deployment(call), AZURE_REFUSALS)


async def opened_on_azure(call: Call) -> Opening:
    if call.request.query_params.get("api-version") not in API_VERSIONS:
        raise Reject(error(call.profile, 404, "Resource not found"))
    return await opened(call, azure_key)


def azure_key(call: Call) -> str:
    """The key of the `api-key` header, else of `Authorization: Bearer`."""
    headers = call.request.headers
    scheme, _, bearer = headers.get("authorization", "").partition(" ")
    api_key = headers.get("api-key") or (bearer.strip() if scheme.lower() == "bearer" else "")
    if not api_key:
        raise Reject(error(call.profile, 401, MISSING_KEY))
    if call.account(call.key(api_key)) is None:
        raise Reject(error(call.profile, 401, UNKNOWN_KEY))
    return api_key


def deployment(call: Call) -> str:
    name = call.request.path_params["deployment"]
    if name not in models_of(call.profile.contract):
        raise Reject(error(call.profile, 404, NO_DEPLOYMENT, code="DeploymentNotFound"))
    return name


def filtered(call: Call, generation: Generation, request_id: str) -> Response:
    results = {category: {"filtered": category == "sexual", "severity": "high" if category == "sexual" else "safe"}
               for category in FILTER_CATEGORIES}  # fmt: skip
    inner = {"code": "ResponsibleAIPolicyViolation", "content_filter_results": results,
             "revised_prompt": generation.prompt}  # fmt: skip
    body = {"code": "content_policy_violation", "inner_error": inner, "message": FILTERED,
            "type": "invalid_request_error"}  # fmt: skip
    return JSONResponse({"error": body}, 400)


def throttled(call: Call) -> Response:
    """Azure's 429, for a rate limit and for a quota the account has used up alike (Azure bills no credits)."""
    version = call.request.query_params.get("api-version")
    wait = math.ceil(call.retry_after(RETRY_AFTER_SECONDS))
    message = (f"Requests to the Images_Generations Operation under Azure OpenAI API version {version} have exceeded "
               f"call rate limit of your current OpenAI S0 pricing tier. Please retry after {wait} "
               "seconds. Please contact Azure support service if you would like to further increase the default "
               "rate limit.")  # fmt: skip
    return error(call.profile, 429, message, {"Retry-After": str(wait)})


AZURE_REFUSALS = Refusals(moderated=filtered, no_quota=throttled, rate_limited=throttled, server_error=server_error)
