"""README.md stays true: its commands are the ones CI runs, and its example gets the documented answer."""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from PIL import Image

INNER_RUN_SECONDS = 90  # a user's test run, in a subprocess: it fails rather than hangs (before the 120 s of a test)

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def shell_blocks() -> list[str]:
    return re.findall(r"```sh\n(.*?)```", README, flags=re.DOTALL)


def test_ci_runs_the_readmes_test_command():
    test_command = next(block.strip() for block in shell_blocks() if "pytest" in block)
    ci_script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")

    assert test_command in ci_script.splitlines()


def test_the_readmes_start_command_installs_and_serves_with_no_options():
    start = next(block.strip() for block in shell_blocks() if "imagegen-mock serve" in block)

    assert start == "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/imagegen-mock serve"


def test_the_readmes_seed_example_gets_the_documented_answer(client):
    command = next(block for block in shell_blocks() if block.startswith("curl -X POST"))
    method, url, headers, body = parse_curl(command.replace("\\\n", " "))
    documented = json.loads(re.search(r"```json\n(.*?)```", README, flags=re.DOTALL).group(1))

    response = client.request(method, url.replace("http://127.0.0.1:8000", ""), headers=headers, content=body)

    assert response.status_code == 200
    assert set(response.json()) == set(documented)
    assert response.json()["creditsCharged"] == documented["creditsCharged"]
    assert client.get(response.json()["imageUrl"]).headers["content-type"] == "image/png"


def test_the_readmes_geminigen_example_starts_a_faithful_job(client):
    command = next(block for block in shell_blocks() if "generate_image" in block and "--form" in block)
    method, url, headers, form = parse_curl(command.replace("\\\n", " "))

    multipart = {name: (None, value) for name, value in form.items()}  # as curl --form sends them
    response = client.request(method, url.replace("http://127.0.0.1:8000", ""), headers=headers, files=multipart)

    assert response.status_code == 200
    job = response.json()
    assert (job["model_name"], job["status"], job["used_credit"]) == ("imagen-4", 1, 10)
    assert job["input_text"] == "A beautiful sunset over mountains with vibrant colors"


def parse_curl(command: str) -> tuple[str, str, dict[str, str], bytes | dict[str, str]]:
    """The request a curl command sends: method, URL, headers, and its body or form fields."""
    words = shlex.split(command)[1:]
    method, url, headers, body, form = "", "", {}, b"", {}
    while words:
        word = words.pop(0)
        if word == "-X":
            method = words.pop(0)
        elif word == "-H":
            name, _, value = words.pop(0).partition(":")
            headers[name.strip()] = value.strip()
        elif word == "-d":
            body = words.pop(0).encode()
        elif word in ("-F", "--form"):
            name, _, value = words.pop(0).partition("=")
            form[name] = value
        else:
            url = word
    return method or ("POST" if body or form else "GET"), url, headers, form or body


def gemini_example(seed: str) -> str:
    return next(block for block in shell_blocks() if "generateContent" in block and seed in block)


def test_the_readmes_vastnum_example_gets_seed_002s_4k_image(client):
    method, url, headers, body = parse_curl(gemini_example("draw a cat").replace("\\\n", " "))

    response = client.request(method, url.replace("http://127.0.0.1:8000", ""), headers=headers, content=body)

    assert response.status_code == 200
    parts = response.json()["candidates"][0]["content"]["parts"]
    assert [next(iter(part)) for part in parts] == ["text", "inlineData"]
    assert [(image.format, image.size) for image in images_in(parts)] == [("PNG", (5504, 3072))]


def test_the_readmes_crazyrouter_example_gets_a_16_9_image(client):
    method, url, headers, body = parse_curl(gemini_example("widescreen").replace("\\\n", " "))

    response = client.request(method, url.replace("http://127.0.0.1:8000", ""), headers=headers, content=body)

    assert response.status_code == 200
    parts = response.json()["candidates"][0]["content"]["parts"]
    assert [image.size for image in images_in(parts)] == [(1344, 768)]


def images_in(parts: list[dict]) -> list[Image.Image]:
    blobs = [part["inlineData"]["data"] for part in parts if "inlineData" in part]
    return [Image.open(io.BytesIO(base64.b64decode(blob))) for blob in blobs]


def python_examples() -> list[str]:
    """The examples that print what they promise in their last line's comment."""
    return [block for block in re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL) if "print(" in block]


def test_the_readme_has_a_printing_example_for_each_sdk():
    assert [("from google import genai" in e, "from openai import OpenAI" in e) for e in python_examples()] == [
        (True, False),
        (False, True),
        (False, True),  # images through chat completions
        (False, True),
        (False, False),  # AzureOpenAI
    ]


@pytest.mark.parametrize("index", range(len(python_examples())))
def test_the_readmes_sdk_examples_print_what_they_say(server, capsys, index):
    example = python_examples()[index]
    promised = re.search(r"# (.*)$", example.strip()).group(1)

    exec(example.replace("http://127.0.0.1:8000", server.url), {})

    assert capsys.readouterr().out.strip() == promised


def test_the_readmes_client_tests_pass_as_shown(pytester):
    from mockserver.scenarios import scenarios

    (example,) = [b for b in re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL) if "test_my_client" in b]
    pytester.makepyfile(test_my_client=example)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-q", timeout=INNER_RUN_SECONDS)

    tests = len(re.findall(r"^def test_", example, flags=re.MULTILINE))
    result.assert_outcomes(passed=tests - 1 + len(scenarios("vydra")))


@pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is not installed")
def test_the_readmes_javascript_test_passes_as_shown(server, tmp_path):
    (example,) = re.findall(r"```js\n(.*?)```", README, flags=re.DOTALL)
    script = tmp_path / "client.test.mjs"
    script.write_text(example)

    result = subprocess.run(
        ["node", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "IMAGEGEN_MOCK_URL": server.url},
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "client.test.mjs: ok"


def test_the_readmes_llmgateway_example_gets_two_7_4_images(client):
    command = next(block for block in shell_blocks() if "/v1/images/generations" in block)
    method, url, headers, body = parse_curl(command.replace("\\\n", " "))

    response = client.request(method, url.replace("http://127.0.0.1:8000", ""), headers=headers, content=body)

    assert response.status_code == 200
    data = response.json()["data"]
    images = [Image.open(io.BytesIO(base64.b64decode(item["b64_json"]))) for item in data]
    assert [(image.format, image.size) for image in images] == [("PNG", (1344, 768))] * 2
    assert {item["revised_prompt"] for item in data} == {"A white siamese cat"}


def test_the_readmes_fault_tables_are_the_scenario_catalogues():
    from mockserver.scenarios import README_TABLES, markdown

    for profile, heading in README_TABLES.items():
        assert markdown(profile, heading) in README, f"the README's table for {profile} is not the catalogue's"


def test_the_readmes_broken_connections_are_the_catalogues():
    from mockserver.broken_connections import markdown

    assert markdown() in README
