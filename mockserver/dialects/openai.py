"""OpenAI's own images API, the `openai` profile's dialect (contracts/openai.yaml): generations, edits and
variations, each taken and answered as openai_generation.py says, and the Responses API's image tool."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.responses import Response

from ..pipeline.endpoint import Call
from ..pipeline.routing import Profile, ServiceRoute
from .openai_edits import EDITS, VARIATIONS, edit, variation
from .openai_generation import FAULTS, error, generation_of, json_body, opened, respond
from .openai_responses import FAULTS as RESPONSE_FAULTS
from .openai_responses import RESPONSES, create

if TYPE_CHECKING:
    from ..state import State

__all__ = ["error", "routes"]
GENERATIONS = "/v1/images/generations"


def routes(profile: Profile, state: State) -> list[ServiceRoute]:
    return [
        ServiceRoute("POST", GENERATIONS, generate, FAULTS),
        ServiceRoute("POST", EDITS, edit, FAULTS),
        ServiceRoute("POST", VARIATIONS, variation, FAULTS),
        ServiceRoute("POST", RESPONSES, create, RESPONSE_FAULTS),
    ]


async def generate(call: Call) -> Response:
    opening = await opened(call)
    return await respond(call, opening, generation_of(call, json_body(call)))
