// The official openai SDK for Node, unchanged but for its base URL, with its default retries: one image generation,
// through whatever faults tests/test_retries.py queued first. It prints as JSON what came back and each wait the
// SDK asked for before a retry.
// The SDK's own clock is faked, no more: a timer set from its sleep (openai/internal/utils/sleep.js) is recorded
// and passes at once, so that a wait of minutes is measured without being waited.
// Usage: node openai_retries.mjs <mock url> <key>
import OpenAI from "openai";

const [mockURL, apiKey] = process.argv.slice(2);
const client = new OpenAI({ apiKey, baseURL: `${mockURL}/openai/v1` });

const realSetTimeout = globalThis.setTimeout;
const waits = [];
globalThis.setTimeout = (callback, ms, ...rest) => {
  if (!new Error().stack.includes("openai/internal/utils/sleep")) return realSetTimeout(callback, ms, ...rest);
  waits.push(ms);
  return realSetTimeout(callback, 0, ...rest);
};

let outcome;
try {
  const answer = await client.images.generate({ model: "gpt-image-1-mini", prompt: "a fox", quality: "low",
    size: "1024x1024" });
  outcome = { images: answer.data.length };
} catch (error) {
  outcome = { raised: error.constructor.name, status: error.status ?? null, message: String(error.message) };
}
console.log(JSON.stringify({ ...outcome, waits }));
