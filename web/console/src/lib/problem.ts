// RFC 9457 problem documents from the API, as an Error the UI can show next to a form or field.

/** One invalid input field, as the server names it (`name`, `ai_config.temperature`). */
export interface FieldError {
  field: string;
  message: string;
}

/** A failed API call: the server's problem document, or one made up for a non-JSON answer. */
export class ApiProblem extends Error {
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly code: string;
  readonly errors: FieldError[];

  constructor(status: number, title: string, detail: string, code = "", errors: FieldError[] = []) {
    super(detail || title);
    this.name = "ApiProblem";
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.code = code;
    this.errors = errors;
  }

  /** What is wrong with `field`, if the server said. */
  fieldError(field: string): string | undefined {
    return this.errors.find((e) => e.field === field)?.message;
  }

  /** The form-level message: the detail, with the field errors no field shows. */
  summary(shownFields: readonly string[] = []): string {
    const others = this.errors.filter((e) => !shownFields.includes(e.field));
    const extra = others.map((e) => `${e.field}: ${e.message}`).join("; ");
    return extra ? `${this.detail || this.title} (${extra})` : this.detail || this.title;
  }
}

function isFieldError(value: unknown): value is FieldError {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as FieldError).field === "string" &&
    typeof (value as FieldError).message === "string"
  );
}

/** Turns a parsed body (maybe a problem document) and a status into an ApiProblem. */
export function problemFromBody(status: number, statusText: string, body: unknown): ApiProblem {
  if (typeof body === "object" && body !== null) {
    const b = body as Record<string, unknown>;
    const title = typeof b.title === "string" ? b.title : statusText || `HTTP ${status}`;
    const detail = typeof b.detail === "string" ? b.detail : "";
    const code = typeof b.code === "string" ? b.code : "";
    const errors = Array.isArray(b.errors) ? b.errors.filter(isFieldError) : [];
    return new ApiProblem(typeof b.status === "number" ? b.status : status, title, detail, code, errors);
  }
  const text = typeof body === "string" ? body.trim().slice(0, 300) : "";
  return new ApiProblem(status, statusText || `HTTP ${status}`, text);
}

/** Reads a failed response's body as a problem. */
export async function problemFromResponse(res: Response): Promise<ApiProblem> {
  const text = await res.text().catch(() => "");
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // Not JSON: keep the text.
  }
  return problemFromBody(res.status, res.statusText, body);
}

/** Any thrown value as a message for the user. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiProblem) return error.summary();
  if (error instanceof Error) return error.message;
  return String(error);
}
