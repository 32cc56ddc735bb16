import { describe, expect, it } from "vitest";
import { renderInline, renderMarkdown, safeUrl } from "./markdown";

function html(text: string): string {
  const box = document.createElement("div");
  box.append(renderMarkdown(text, (n) => {
    const sup = document.createElement("sup");
    sup.textContent = `[${n}]`;
    return sup;
  }));
  return box.innerHTML;
}

describe("renderMarkdown", () => {
  it("renders the chat subset", () => {
    expect(html("Hello **there** and *you*")).toBe("<p>Hello <strong>there</strong> and <em>you</em></p>");
    expect(html("- one\n- two")).toBe("<ul><li>one</li><li>two</li></ul>");
    expect(html("1. first\n2. second")).toBe("<ol><li>first</li><li>second</li></ol>");
    expect(html("use `a < b`")).toBe("<p>use <code>a &lt; b</code></p>");
    expect(html("```\n<b>x</b>\n```")).toBe("<pre><code>&lt;b&gt;x&lt;/b&gt;</code></pre>");
    expect(html("line one\nline two")).toBe("<p>line one<br>line two</p>");
    expect(html("Returns take 30 days [1].")).toBe("<p>Returns take 30 days <sup>[1]</sup>.</p>");
  });

  it("links only http, https and mailto, in a new tab without referrer", () => {
    const safe = html("[docs](https://example.com/a?b=1)");
    expect(safe).toContain('href="https://example.com/a?b=1"');
    expect(safe).toContain('target="_blank"');
    expect(safe).toContain('rel="noopener noreferrer nofollow"');
    expect(html("see https://example.com/x.")).toContain('<a href="https://example.com/x"');
  });

  it("keeps script, event handlers and dangerous links inert", () => {
    const attacks = [
      "<script>alert(1)</script>",
      '<img src=x onerror="alert(1)">',
      "[click](javascript:alert(1))",
      "[click](JaVaScRiPt:alert(1))",
      "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
      "![x](javascript:alert(1))",
      "![x](http://insecure.example/a.png)",
      "![x](data:image/svg+xml,<svg onload=alert(1)>)",
      '<a href="javascript:alert(1)">x</a>',
      "**<iframe src=//evil>**",
    ];
    for (const attack of attacks) {
      const box = document.createElement("div");
      box.append(renderMarkdown(attack));
      expect(box.querySelector("script, iframe, [onerror], [onload]")).toBeNull();
      for (const a of box.querySelectorAll("a")) expect(a.href).toMatch(/^(https?|mailto):/);
      expect(box.querySelector("img")).toBeNull();
    }
    expect(html("<script>alert(1)</script>")).toBe("<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>");
    expect(html("[click](javascript:alert(1))")).toBe("<p>click</p>");
  });

  it("never loads an image of the text: it becomes a link, and only to https", () => {
    const shown = html("![logo](https://cdn.example/logo.png?d=secret)");
    expect(shown).not.toContain("<img");
    expect(shown).toContain('<a href="https://cdn.example/logo.png?d=secret"');
    expect(shown).toContain(">logo</a>");
    expect(html("![logo](http://cdn.example/logo.png)")).toBe("<p>logo</p>");
  });

  it("nests no link inside a link", () => {
    const shown = html("[see https://a.example/x](https://b.example/)");
    expect(shown.match(/<a /g)?.length).toBe(1);
  });

  it("leaves snake_case words alone", () => {
    expect(html("set max_tool_steps and top_k")).toBe("<p>set max_tool_steps and top_k</p>");
  });

  it("stops nesting at a bounded depth", () => {
    const deep = "**".repeat(50) + "x" + "**".repeat(50);
    expect(() => renderInline(deep)).not.toThrow();
  });
});

describe("safeUrl", () => {
  it("allows only the given schemes", () => {
    expect(safeUrl("https://a.example/")).toBe("https://a.example/");
    expect(safeUrl("mailto:a@example.com")).toBe("mailto:a@example.com");
    expect(safeUrl("javascript:alert(1)")).toBeUndefined();
    expect(safeUrl(" javascript:alert(1)")).toBeUndefined();
    expect(safeUrl("/relative")).toBeUndefined();
  });
});
