// The French resources translate every English key, and nothing else.
import { describe, expect, it } from "vitest";
import en from "./en.json";
import fr from "./fr.json";

function keys(tree: object, prefix = ""): string[] {
  return Object.entries(tree).flatMap(([k, v]) =>
    typeof v === "object" && v !== null ? keys(v as object, `${prefix}${k}.`) : [`${prefix}${k.replace(/_(one|many|other)$/, "")}`],
  );
}

describe("translations", () => {
  it("have the same keys in English and French", () => {
    expect([...new Set(keys(fr))].sort()).toEqual([...new Set(keys(en))].sort());
  });
});
