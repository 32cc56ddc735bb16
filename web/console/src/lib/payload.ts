// Reading message payloads defensively: the transcript shows what a payload holds, and a
// payload may miss fields or hold them with unexpected types.

/** The records of a payload list: its items that are objects, or none. */
export function records(value: unknown): Record<string, unknown>[] {
  return Array.isArray(value) ? value.filter((v): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v)) : [];
}

/** A string or a finite number as text; `undefined` for anything else. */
export function scalar(value: unknown): string | undefined {
  if (typeof value === "string") return value;
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return undefined;
}

/** `value` as JSON text for display, cut to `max` characters; "" when it cannot be. */
export function json(value: unknown, max = 300): string {
  try {
    const text = JSON.stringify(value);
    return typeof text === "string" ? (text.length > max ? `${text.slice(0, max)}…` : text) : "";
  } catch {
    return "";
  }
}

/** `url` when it is an absolute http(s) URL, else `undefined`. */
export function httpUrl(url: unknown): string | undefined {
  if (typeof url !== "string") return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}
