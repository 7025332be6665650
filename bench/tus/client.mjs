// Uploads a file to a tus server with tus-js-client, as a Node.js app would:
//   node client.mjs ENDPOINT FILE CHUNK_BYTES HEADERS_JSON METADATA_JSON [UPLOAD_URL]
// With UPLOAD_URL it resumes that upload (HEAD, then PATCH from its offset).
// With PAUSE_BEFORE_PATCH=N in the environment it waits for a line on its
// standard input before sending its Nth PATCH (so a test can kill the server
// mid-upload at a known point).
// With RETRY_DELAYS=[ms, …] (JSON) it retries as tus-js-client does by
// default, after each delay in turn; without it, it never retries.
// Prints one line per event: `url <URL>` once created, `chunk <bytes accepted>`
// after each PATCH, `failed <METHOD> <status>` for an answer of 500 or more,
// `resumed <offset>` when a resumed upload starts, then `done <attachment id>`;
// on failure `error <message>` and exit code 1.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { Upload } from "tus-js-client";

const [endpoint, file, chunk, headers, metadata, uploadUrl] = process.argv.slice(2);
const data = readFileSync(file);
let firstOffset = null;
let patches = 0;
const pauseBefore = Number(process.env.PAUSE_BEFORE_PATCH || 0);
const lines = createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once("line", resolve));

const upload = new Upload(data, {
  endpoint,
  uploadUrl: uploadUrl || null,
  chunkSize: Number(chunk),
  headers: JSON.parse(headers),
  metadata: JSON.parse(metadata),
  retryDelays: JSON.parse(process.env.RETRY_DELAYS || "[]"),
  storeFingerprintForResuming: false,
  onUploadUrlAvailable() {
    console.log(`url ${upload.url}`);
  },
  onProgress(sent) {
    if (firstOffset === null) {
      firstOffset = sent;
    }
  },
  async onBeforeRequest(req) {
    if (req.getMethod() === "PATCH") {
      patches += 1;
      if (patches === pauseBefore) {
        console.log("paused");
        await nextLine();
      }
    }
  },
  onChunkComplete(_size, accepted) {
    console.log(`chunk ${accepted}`);
  },
  onAfterResponse(req, res) {
    if (res.getStatus() >= 500) {
      console.log(`failed ${req.getMethod()} ${res.getStatus()}`);
    }
    const id = res.getHeader("Clasp-Attachment-Id");
    if (id) {
      upload.claspId = id;
    }
  },
  onSuccess() {
    console.log(`done ${upload.claspId}`);
    process.exit(0);
  },
  onError(error) {
    console.log(`error ${String(error).replace(/\n/g, " ")}`);
    process.exit(1);
  },
});

if (uploadUrl) {
  // Where the stored URL stands before sending: what a resumed upload skips.
  const res = await fetch(uploadUrl, {
    method: "HEAD",
    headers: { ...JSON.parse(headers), "Tus-Resumable": "1.0.0" },
  });
  console.log(`resumed ${res.headers.get("upload-offset")}`);
}
upload.start();
