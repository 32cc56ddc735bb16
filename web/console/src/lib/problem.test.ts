// Problem documents: fields, field errors, and answers that are not problem documents.
import { describe, expect, it } from "vitest";
import { problemFromBody, problemFromResponse } from "./problem";

describe("problems", () => {
  it("reads a validation problem with its field errors", async () => {
    const res = new Response(
      JSON.stringify({
        type: "urn:botbuilder:problem:validation_failed",
        title: "Bad Request",
        status: 400,
        detail: "the request is invalid",
        code: "validation_failed",
        errors: [
          { field: "name", message: "must have 1 to 100 characters" },
          { field: "ai_config.temperature", message: "must be between 0 and 2" },
        ],
      }),
      { status: 400, headers: { "content-type": "application/problem+json" } },
    );
    const problem = await problemFromResponse(res);
    expect(problem.status).toBe(400);
    expect(problem.code).toBe("validation_failed");
    expect(problem.fieldError("name")).toBe("must have 1 to 100 characters");
    expect(problem.fieldError("email")).toBeUndefined();
    expect(problem.summary(["name"])).toBe("the request is invalid (ai_config.temperature: must be between 0 and 2)");
    expect(problem.summary(["name", "ai_config.temperature"])).toBe("the request is invalid");
    expect(problem.message).toBe("the request is invalid");
  });

  it("makes a problem of a non-JSON answer", async () => {
    const problem = await problemFromResponse(new Response("Bad gateway", { status: 502, statusText: "Bad Gateway" }));
    expect(problem.status).toBe(502);
    expect(problem.title).toBe("Bad Gateway");
    expect(problem.summary()).toBe("Bad gateway");
  });

  it("ignores malformed field errors", () => {
    const problem = problemFromBody(400, "", { title: "Bad Request", detail: "x", errors: [{ field: 1 }, "no", { field: "a", message: "b" }] });
    expect(problem.errors).toEqual([{ field: "a", message: "b" }]);
  });
});
