// Uploads a file as multipart/form-data with XMLHttpRequest, for its upload progress events;
// retries once after a 401 with a refreshed token, as the fetch client does.

import type { ApiClient } from "./api";
import { problemFromBody } from "./problem";

function sendOnce<T>(url: string, form: FormData, token: string | null, onProgress: (share: number) => void) {
  return new Promise<{ status: number; statusText: string; body: unknown }>((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", url);
    xhr.withCredentials = false;
    if (token) xhr.setRequestHeader("authorization", `Bearer ${token}`);
    xhr.setRequestHeader("accept", "application/json");
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && e.total > 0) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      let body: unknown = xhr.responseText;
      try {
        body = JSON.parse(xhr.responseText) as T;
      } catch {
        // Not JSON.
      }
      resolve({ status: xhr.status, statusText: xhr.statusText, body });
    };
    xhr.onerror = () => reject(new Error("network error"));
    xhr.send(form);
  });
}

/** Posts `file` (field `file`) to `url`; resolves with the created resource. */
export async function uploadFile<T>(
  client: ApiClient,
  url: string,
  file: File,
  onProgress: (share: number) => void,
): Promise<T> {
  const form = () => {
    const data = new FormData();
    data.append("file", file, file.name);
    return data;
  };
  let res = await sendOnce<T>(url, form(), client.accessToken, onProgress);
  if (res.status === 401) {
    const token = await client.refresh();
    if (token) res = await sendOnce<T>(url, form(), token, onProgress);
  }
  if (res.status < 200 || res.status >= 300) throw problemFromBody(res.status, res.statusText, res.body);
  onProgress(1);
  return res.body as T;
}
