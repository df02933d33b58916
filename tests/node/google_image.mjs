// The Vercel AI SDK's google.image(), unchanged but for its base URL: each model named on the command line draws
// through generateImage, and what came back is printed as JSON for tests/test_vercel_ai_sdk.py to check.
import { createGoogleGenerativeAI } from "@ai-sdk/google";
import { generateImage } from "ai";

const [baseURL, apiKey, ...asks] = process.argv.slice(2);
const google = createGoogleGenerativeAI({ baseURL, apiKey });

function pixels(bytes) {
  // a PNG's width and height, from its IHDR chunk
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return [view.getUint32(16), view.getUint32(20)];
}

const results = [];
for (const ask of asks) {
  const [model, n, aspectRatio] = ask.split(",");
  try {
    const { images } = await generateImage({ model: google.image(model), prompt: "a lighthouse at dusk",
      n: Number(n), aspectRatio, maxRetries: 0 });
    results.push({ model, images: images.map((image) => ({ mediaType: image.mediaType,
      size: pixels(image.uint8Array) })) });
  } catch (error) {
    results.push({ model, error: String(error.message ?? error), status: error.statusCode ?? null });
  }
}
console.log(JSON.stringify(results));
