// Uploads a file as multipart/form-data with XMLHttpRequest, for its upload progress events;
// retries once after a 401 with a refreshed token, as the fetch client does, and signs out when
// that refresh fails. A network error, a timeout or an abort (`signal`, as when the page that
// started the upload goes away) rejects: the promise never hangs.

import type { ApiClient } from "./api";
import { problemFromBody } from "./problem";

/** How long one upload may take before it counts as failed. */
export const UPLOAD_TIMEOUT_MS = 10 * 60_000;

export interface UploadOptions {
  signal?: AbortSignal;
  timeoutMs?: number;
}

function abortError(): Error {
  return new DOMException("The upload was aborted.", "AbortError");
}

function sendOnce(url: string, form: FormData, token: string | null, onProgress: (share: number) => void, options: UploadOptions) {
  return new Promise<{ status: number; statusText: string; body: unknown }>((resolve, reject) => {
    const { signal } = options;
    if (signal?.aborted) return reject(abortError());
    const xhr = new XMLHttpRequest();
    const onAbort = () => xhr.abort();
    const done = () => signal?.removeEventListener("abort", onAbort);
    xhr.open("POST", url);
    xhr.withCredentials = false;
    xhr.timeout = options.timeoutMs ?? UPLOAD_TIMEOUT_MS;
    if (token) xhr.setRequestHeader("authorization", `Bearer ${token}`);
    xhr.setRequestHeader("accept", "application/json");
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      done();
      let body: unknown = xhr.responseText;
      try {
        body = JSON.parse(xhr.responseText);
      } catch {
        // Not JSON.
      }
      resolve({ status: xhr.status, statusText: xhr.statusText, body });
    };
    xhr.onerror = () => {
      done();
      reject(new Error("The upload failed: network error."));
    };
    xhr.ontimeout = () => {
      done();
      reject(new Error("The upload timed out."));
    };
    xhr.onabort = () => {
      done();
      reject(abortError());
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    xhr.send(form);
  });
}

/** Posts `file` (field `file`) to `url`; resolves with the created resource. */
export async function uploadFile<T>(
  client: ApiClient,
  url: string,
  file: File,
  onProgress: (share: number) => void,
  options: UploadOptions = {},
): Promise<T> {
  const form = () => {
    const data = new FormData();
    data.append("file", file, file.name);
    return data;
  };
  let res = await sendOnce(url, form(), client.accessToken, onProgress, options);
  if (res.status === 401) {
    const token = await client.refresh();
    if (token) res = await sendOnce(url, form(), token, onProgress, options);
    else client.onSignedOut?.();
  }
  if (res.status < 200 || res.status >= 300) throw problemFromBody(res.status, res.statusText, res.body);
  onProgress(1);
  return res.body as T;
}
