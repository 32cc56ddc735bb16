// Bot text as safe Markdown: DOM nodes built one by one, never HTML parsed from the text, so
// neither a language model nor a document can put script or markup into the page.
//
// The subset chat answers use: paragraphs and line breaks, `-`/`*` and `1.` lists, fenced and
// inline code, **bold**, *italic*, [links](https://…), bare https URLs, and citation markers
// [1]. Links open in a new tab and only for `http:`, `https:` and `mailto:` (a `javascript:`
// or `data:` link is shown as its text). An image in the text, `![alt](https://…)`, is shown
// as a link to it and never loaded by itself: a model led on by a document could otherwise
// make the visitor's browser send data to any server without a click.

/** How a citation marker `[n]` is shown (the widget links it to its footnote). */
export type CitationRenderer = (n: number) => Node;

const SAFE_LINK = new Set(["http:", "https:", "mailto:"]);
const MAX_DEPTH = 4;

/** `href` as an absolute URL when its scheme is allowed (`schemes`), else `undefined`. */
export function safeUrl(href: string, schemes: ReadonlySet<string> = SAFE_LINK): string | undefined {
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    return undefined;
  }
  return schemes.has(url.protocol) ? url.href : undefined;
}

const HTTPS = new Set(["https:"]);

function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  children: readonly Node[] = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  node.append(...children);
  return node;
}

function link(label: readonly Node[], href: string): Node[] {
  const url = safeUrl(href);
  if (!url) return [...label];
  const a = el("a", label);
  a.href = url;
  a.target = "_blank";
  a.rel = "noopener noreferrer nofollow";
  return [a];
}

/** An image of the text: a link to it (see the module docs), or its alt text. */
function imageLink(alt: string, src: string): Node[] {
  const label = document.createTextNode(alt.trim() || src);
  return safeUrl(src, HTTPS) ? link([label], src) : [label];
}

/** An `<img>` of an `https` image a person chose (a flow's image, an agent's), else `undefined`. */
export function image(src: string, alt: string): HTMLImageElement | undefined {
  const url = safeUrl(src, HTTPS);
  if (!url) return undefined;
  const img = el("img");
  img.src = url;
  img.alt = alt;
  img.loading = "lazy";
  img.referrerPolicy = "no-referrer";
  return img;
}

// One alternative per inline construct; the first that matches at a position wins.
const INLINE = new RegExp(
  [
    /(`+)([^`]|[^`][\s\S]*?[^`])\1(?!`)/.source, // 1-2 code
    /!\[([^\]\n]*)\]\(((?:[^()\s]|\([^()\s]*\))+)\)/.source, // 3-4 image (URLs may hold (…))
    /\[([^\]\n]+)\]\(((?:[^()\s]|\([^()\s]*\))+)\)/.source, // 5-6 link
    /\*\*(\S(?:[\s\S]*?\S)?)\*\*/.source, // 7 bold
    /__(\S(?:[\s\S]*?\S)?)__/.source, // 8 bold
    /\*(\S(?:[^*]*?\S)?)\*/.source, // 9 italic (not `_x_`: snake_case words)
    /\[(\d{1,3})\]/.source, // 10 citation
    /(https?:\/\/[^\s<>()]*[^\s<>().,:;!?"'])/.source, // 11 bare URL
  ].join("|"),
  "g",
);

/** Inline Markdown of one block (`text` may hold line breaks); `inLink` turns off links. */
export function renderInline(text: string, cite?: CitationRenderer, depth = 0, inLink = false): Node[] {
  const out: Node[] = [];
  const textNode = (s: string) => {
    const lines = s.split("\n");
    lines.forEach((line, i) => {
      if (i > 0) out.push(el("br"));
      if (line) out.push(document.createTextNode(line));
    });
  };
  if (depth >= MAX_DEPTH) {
    textNode(text);
    return out;
  }
  const inner = (s: string, linkLabel = inLink) => renderInline(s, cite, depth + 1, linkLabel);
  let at = 0;
  for (const m of text.matchAll(INLINE)) {
    const index = m.index ?? 0;
    textNode(text.slice(at, index));
    at = index + m[0].length;
    if (m[2] !== undefined) out.push(el("code", [document.createTextNode(m[2])]));
    else if (m[4] !== undefined) out.push(...(inLink ? [document.createTextNode(m[3] ?? "")] : imageLink(m[3] ?? "", m[4])));
    else if (m[6] !== undefined) out.push(...(inLink ? inner(m[5] ?? "") : link(inner(m[5] ?? "", true), m[6])));
    else if (m[7] !== undefined || m[8] !== undefined) out.push(el("strong", inner(m[7] ?? m[8] ?? "")));
    else if (m[9] !== undefined) out.push(el("em", inner(m[9])));
    else if (m[10] !== undefined && cite && !inLink) out.push(cite(Number(m[10])));
    else if (m[11] !== undefined && !inLink) out.push(...link([document.createTextNode(m[11])], m[11]));
    else textNode(m[0]);
  }
  textNode(text.slice(at));
  return out;
}

const BULLET = /^\s{0,3}[-*+]\s+/;
const NUMBERED = /^\s{0,3}\d{1,9}[.)]\s+/;
const FENCE = /^\s{0,3}```/;
const HEADING = /^\s{0,3}#{1,6}\s+/;

/** Markdown `text` as a fragment of block elements. */
export function renderMarkdown(text: string, cite?: CitationRenderer): DocumentFragment {
  const fragment = document.createDocumentFragment();
  const lines = text.replace(/\r\n?/g, "\n").split("\n");
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] ?? "";
    if (line.trim() === "") {
      i += 1;
    } else if (FENCE.test(line)) {
      const code: string[] = [];
      i += 1;
      while (i < lines.length && !FENCE.test(lines[i] ?? "")) code.push(lines[i++] ?? "");
      i += 1;
      fragment.append(el("pre", [el("code", [document.createTextNode(code.join("\n"))])]));
    } else if (BULLET.test(line) || NUMBERED.test(line)) {
      const marker = BULLET.test(line) ? BULLET : NUMBERED;
      const list = el(marker === BULLET ? "ul" : "ol");
      while (i < lines.length && marker.test(lines[i] ?? "")) {
        list.append(el("li", renderInline((lines[i++] ?? "").replace(marker, ""), cite)));
      }
      fragment.append(list);
    } else if (HEADING.test(line)) {
      fragment.append(el("p", [el("strong", renderInline(line.replace(HEADING, ""), cite))]));
      i += 1;
    } else {
      const paragraph: string[] = [];
      while (i < lines.length) {
        const next = lines[i] ?? "";
        if (next.trim() === "" || FENCE.test(next) || BULLET.test(next) || NUMBERED.test(next) || HEADING.test(next)) break;
        paragraph.push(next);
        i += 1;
      }
      fragment.append(el("p", renderInline(paragraph.join("\n"), cite)));
    }
  }
  return fragment;
}
