// After sign-in the user comes back to the page they asked for, query and hash included.
import { describe, expect, it } from "vitest";
import { afterSignIn } from "./redirect";

describe("afterSignIn", () => {
  it("keeps the path, query and hash", () => {
    expect(afterSignIn("/inbox?bot=b1&session=s1")).toBe("/inbox?bot=b1&session=s1");
    expect(afterSignIn("/bots/b1/deploy#snippet")).toBe("/bots/b1/deploy#snippet");
  });

  it("goes to the bots otherwise", () => {
    expect(afterSignIn(undefined)).toBe("/bots");
    expect(afterSignIn(42)).toBe("/bots");
    expect(afterSignIn("/login")).toBe("/bots");
    expect(afterSignIn("/login?x=1")).toBe("/bots");
    expect(afterSignIn("/signup")).toBe("/bots");
    expect(afterSignIn("//evil.example/x")).toBe("/bots");
    expect(afterSignIn("https://evil.example/")).toBe("/bots");
  });

  it("does not mistake a page whose name starts like a sign-in page", () => {
    expect(afterSignIn("/loginhelp")).toBe("/loginhelp");
  });
});
