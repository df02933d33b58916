// The official openai SDK for Node, unchanged but for its base URL: each case named on the command line calls the
// mock's openai (or azure) profile, and what came back is printed as JSON for tests/test_openai_node.py to check.
// Usage: node openai_images.mjs <mock url> <key> <key without credits> <folder of input PNGs> <case>...
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import OpenAI, { AzureOpenAI, toFile } from "openai";

const [mockURL, apiKey, poorKey, inputs, ...cases] = process.argv.slice(2);
const client = new OpenAI({ apiKey, baseURL: `${mockURL}/openai/v1`, maxRetries: 0 });

function pixels(base64) {
  // a PNG's width and height, from its IHDR chunk
  const bytes = Buffer.from(base64, "base64");
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

async function served(url) {
  const answer = await fetch(url);
  return pixels(Buffer.from(await answer.arrayBuffer()).toString("base64"));
}

async function input(name) {
  return toFile(await readFile(join(inputs, name)), name, { type: "image/png" });
}

function raised(error) {
  return { raised: error.constructor.name, status: error.status ?? null, code: error.code ?? null,
    type: error.type ?? null, param: error.param ?? null, requestID: error.requestID ?? null };
}

const CASES = {
  async generate() {
    const answer = await client.images.generate({ model: "gpt-image-1-mini", prompt: "a lighthouse", quality: "low",
      size: "1536x1024" });
    return { size: pixels(answer.data[0].b64_json), outputTokens: answer.usage.output_tokens };
  },
  async url() {
    const answer = await client.images.generate({ model: "dall-e-3", prompt: "a lighthouse", size: "1792x1024" });
    return { size: await served(answer.data[0].url), revised: typeof answer.data[0].revised_prompt };
  },
  async edit() {
    const answer = await client.images.edit({ model: "gpt-image-1", image: await input("tall.png"), prompt: "a hat",
      quality: "low", size: "auto" });
    return { size: pixels(answer.data[0].b64_json) };
  },
  async editSeveral() {
    const answer = await client.images.edit({ model: "gpt-image-1", prompt: "a hat", quality: "low",
      size: "auto", image: [await input("wide.png"), await input("tall.png")] });
    return { size: pixels(answer.data[0].b64_json), inputTokens: answer.usage.input_tokens };
  },
  async editMasked() {
    const answer = await client.images.edit({ model: "dall-e-2", image: await input("square.png"), prompt: "a hat",
      mask: await input("mask.png"), size: "256x256", response_format: "b64_json" });
    return { size: pixels(answer.data[0].b64_json) };
  },
  async variations() {
    const answer = await client.images.createVariation({ image: await input("square.png"), n: 2, size: "256x256" });
    return { sizes: await Promise.all(answer.data.map((image) => served(image.url))) };
  },
  async stream() {
    const events = await client.images.generate({ model: "gpt-image-1-mini", prompt: "a fox", quality: "low",
      stream: true, partial_images: 2 });
    const seen = [];
    for await (const event of events) seen.push(event.type);
    return { events: seen };
  },
  async responses() {
    const answer = await client.responses.create({ model: "gpt-4.1-mini", input: "a lighthouse",
      tools: [{ type: "image_generation", quality: "low", size: "1024x1536" }] });
    const [call] = answer.output;
    return { type: call.type, status: call.status, size: pixels(call.result) };
  },
  async responsesStream() {
    const events = await client.responses.create({ model: "gpt-4.1-mini", input: "a fox", stream: true,
      tools: [{ type: "image_generation", quality: "low", partial_images: 1 }] });
    const seen = [];
    for await (const event of events) seen.push(event.type);
    return { events: seen };
  },
  async azure() {
    const azure = new AzureOpenAI({ apiKey, apiVersion: "2024-10-21", endpoint: `${mockURL}/azure`, maxRetries: 0,
      deployment: "gpt-image-1-mini" });
    const answer = await azure.images.generate({ model: "gpt-image-1-mini", prompt: "a fox", quality: "low" });
    return { size: pixels(answer.data[0].b64_json) };
  },
  async rawHeaders() {
    const { data, response } = await client.images.generate({ model: "gpt-image-1-mini", prompt: "a fox",
      quality: "low" }).withResponse();
    return { requestID: response.headers.get("x-request-id"), took: response.headers.get("openai-processing-ms"),
      images: data.data.length };
  },
  async unknownKey() {
    const stranger = new OpenAI({ apiKey: "sk-not-a-key-of-this-mock", baseURL: client.baseURL, maxRetries: 0 });
    return stranger.images.generate({ prompt: "a fox" });
  },
  async noCredits() {
    const poor = new OpenAI({ apiKey: poorKey, baseURL: client.baseURL, maxRetries: 0 });
    return poor.images.generate({ model: "dall-e-3", prompt: "a fox" });
  },
  async badRequest() {
    return client.images.generate({ model: "gpt-image-1", prompt: "a fox", size: "1792x1024" });
  },
  async moderated() {
    return client.images.generate({ model: "gpt-image-1", prompt: "a fox" },
      { headers: { "X-Mock-Fault": "content-policy" } });
  },
  async rateLimited() {
    return client.images.generate({ model: "gpt-image-1", prompt: "a fox" },
      { headers: { "X-Mock-Fault": "rate-limit" } });
  },
  async serverError() {
    return client.images.generate({ model: "dall-e-2", prompt: "a fox" },
      { headers: { "X-Mock-Fault": "server-error" } });
  },
  async failedMidStream() {
    const events = await client.images.generate({ model: "gpt-image-1", prompt: "a fox", stream: true,
      partial_images: 3 }, { headers: { "X-Mock-Fault": "content-policy" } });
    for await (const event of events) if (event.type.endsWith("completed")) return { completed: true };
    return { completed: false };
  },
};

const results = {};
for (const name of cases) {
  try {
    results[name] = await CASES[name]();
  } catch (error) {
    results[name] = raised(error);
  }
}
console.log(JSON.stringify(results));
