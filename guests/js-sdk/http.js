// Outgoing HTTP with `fetch`, which componentize-js implements over `wasi:http` (the adapter's
// only way out of the sandbox).
import { fromFetchFailure, fromHttp, upstream, snippet } from "./errors.js";

/**
 * POSTs `body` as JSON and returns the response once its head is in; 4xx/5xx answers are
 * thrown as the matching provider error.
 * @param {string} url
 * @param {unknown} body
 * @param {Record<string, string>} headers
 */
export async function postJson(url, body, headers = {}) {
  let response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  } catch (e) {
    throw fromFetchFailure(e);
  }
  if (!response.ok) {
    const text = await response.text().catch(() => "");
    throw fromHttp(response.status, response.headers, text);
  }
  return response;
}

/** Reads a response body as JSON, at most `limit` bytes. */
export async function readJson(response, limit) {
  const text = await readText(response, limit);
  try {
    return JSON.parse(text);
  } catch (e) {
    throw upstream(`the provider's response is not JSON: ${e.message}: ${snippet(text)}`);
  }
}

async function readText(response, limit) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let seen = 0;
  for (;;) {
    const { done, value } = await reader.read().catch((e) => {
      throw upstream(`reading the response body: ${e.message ?? e}`);
    });
    if (done) return text + decoder.decode();
    seen += value.byteLength;
    if (seen > limit) {
      await reader.cancel().catch(() => {});
      throw upstream(`the provider's response is larger than ${limit} bytes`);
    }
    text += decoder.decode(value, { stream: true });
  }
}

/** An `authorization` header for a credential (usually the host's placeholder, which the host
 * swaps for the real key on the way out). */
export function bearer(credential) {
  return credential ? { authorization: `Bearer ${credential}` } : {};
}

/** The header that asks the host for an AWS SigV4 signature (`service` or `service/region`). */
export const AWS_SIGV4_HEADER = "x-wasmgate-aws-sigv4";

/** Headers asking the host to sign the request with AWS SigV4 for `service` (e.g. `bedrock`),
 * in `region` or the deployment's; the host holds the keys (credential kind `aws-sigv4`). */
export function awsSigv4(service, region) {
  return { [AWS_SIGV4_HEADER]: region ? `${service}/${region}` : service };
}
