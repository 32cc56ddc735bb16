//! Cutting documents into token-sized, overlapping chunks that keep their place: position
//! and the Markdown headings they sit under.
//!
//! Splitting follows the text's own structure (sections, then paragraphs, sentences, words;
//! via `text-splitter`), so a chunk ends at the largest boundary that fits. Sizes are counted
//! in `cl100k_base` tokens, the same measure prompts are budgeted in.
//!
//! Work is linear in the length of the text whatever its shape (one line, no spaces, one
//! giant paragraph, thousands of headings): the text is first cut into windows of at most
//! [`WINDOW_BYTES`] at the best boundary near the end of each (a heading, a blank line, a line
//! break, a space, else any character), and the splitter only ever sees one window. Chunks
//! on either side of a window boundary do not overlap. [`chunk_text_with`] checks a stop
//! condition between chunks, so a caller can bound the time it takes.

use text_splitter::{ChunkConfig, MarkdownSplitter, TextSplitter};

/// How to cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkOptions {
    /// Largest chunk, in tokens.
    pub max_tokens: usize,
    /// Tokens shared by neighbouring chunks (less than `max_tokens`).
    pub overlap_tokens: usize,
}

impl Default for ChunkOptions {
    fn default() -> Self {
        Self {
            max_tokens: 256,
            overlap_tokens: 32,
        }
    }
}

/// A piece of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextChunk {
    /// Order within the document, from 0.
    pub position: u32,
    /// The text.
    pub text: String,
    /// The Markdown headings above it, outermost first (empty for plain text).
    pub heading_path: Vec<String>,
    /// Its length in tokens.
    pub token_count: u32,
    /// Byte offset of its start in the document.
    pub start: usize,
}

/// The text format, which decides where chunks may break.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextFormat {
    /// Plain text: paragraphs, sentences, words.
    Plain,
    /// Markdown: sections and blocks first; chunks carry their heading path.
    Markdown,
    /// A table in CSV: whole rows per chunk, each chunk starting with the header row so a
    /// row far down still says what its columns are.
    Csv,
}

/// ATX headings (`## Title`) outside fenced code: (byte offset, level, title).
fn headings(text: &str) -> Vec<(usize, usize, String)> {
    let mut found = Vec::new();
    let mut offset = 0;
    let mut fenced = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
        } else if !fenced {
            let level = trimmed.chars().take_while(|c| *c == '#').count();
            let rest = &trimmed[level..];
            if (1..=6).contains(&level) && (rest.starts_with(' ') || rest.trim().is_empty()) {
                let title = rest.trim().trim_end_matches('#').trim();
                if !title.is_empty() {
                    found.push((offset, level, title.to_owned()));
                }
            }
        }
        offset += line.len();
    }
    found
}

/// The heading stack, advanced through the document once (offsets only grow), so heading
/// paths cost linear time in all.
struct HeadingCursor<'h> {
    headings: &'h [(usize, usize, String)],
    next: usize,
    stack: Vec<(usize, &'h str)>,
}

impl<'h> HeadingCursor<'h> {
    fn new(headings: &'h [(usize, usize, String)]) -> Self {
        Self {
            headings,
            next: 0,
            stack: Vec::new(),
        }
    }

    /// The headings in force at `offset` (not less than the last one asked), outermost first.
    fn path_at(&mut self, offset: usize) -> Vec<String> {
        while let Some((at, level, title)) = self.headings.get(self.next) {
            if *at > offset {
                break;
            }
            while self.stack.last().is_some_and(|(l, _)| l >= level) {
                self.stack.pop();
            }
            self.stack.push((*level, title));
            self.next += 1;
        }
        self.stack.iter().map(|(_, t)| (*t).to_owned()).collect()
    }
}

/// Most bytes of text the splitter sees at once (see the module docs).
pub const WINDOW_BYTES: usize = 32 * 1024;

/// Cuts `text` into windows of at most `max` bytes (`max` ≥ 8), each ending at the best
/// boundary in its second half: before a heading, at a blank line, at a line break, after
/// whitespace, else at a character boundary. Linear: each window is searched once.
pub fn windows(text: &str, max: usize) -> Vec<(usize, &str)> {
    let mut out = Vec::with_capacity(text.len() / max + 1);
    let mut start = 0;
    while start < text.len() {
        let mut end = (start + max).min(text.len());
        if end < text.len() {
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let mut half = start + (end - start) / 2;
            while !text.is_char_boundary(half) {
                half += 1;
            }
            let search = &text[half..end];
            let cut = search
                .rfind("\n\n#")
                .map(|i| i + 2)
                .or_else(|| search.rfind("\n\n").map(|i| i + 2))
                .or_else(|| search.rfind('\n').map(|i| i + 1))
                .or_else(|| {
                    search
                        .char_indices()
                        .rev()
                        .find(|(_, c)| c.is_whitespace())
                        .map(|(i, c)| i + c.len_utf8())
                });
            if let Some(cut) = cut.filter(|c| *c > 0) {
                end = half + cut;
            }
        }
        out.push((start, &text[start..end]));
        start = end;
    }
    out
}

/// Cuts `text` (see the module docs).
pub fn chunk_text(text: &str, format: TextFormat, options: ChunkOptions) -> Vec<TextChunk> {
    chunk_text_with(text, format, options, &|| false).unwrap_or_default()
}

/// Cuts `text`, asking `stop` between chunks; `None` when it said stop.
pub fn chunk_text_with(
    text: &str,
    format: TextFormat,
    options: ChunkOptions,
    stop: &dyn Fn() -> bool,
) -> Option<Vec<TextChunk>> {
    let bpe = tiktoken_rs::cl100k_base_singleton();
    let max = options.max_tokens.max(1);
    // The overlap is clamped below the size, which is all `with_overlap` checks.
    let config = || {
        ChunkConfig::new(max)
            .with_sizer(bpe)
            .with_overlap(options.overlap_tokens.min(max - 1))
            .unwrap_or_else(|_| ChunkConfig::new(max).with_sizer(bpe))
    };
    if format == TextFormat::Csv
        && let Some(chunks) = csv_chunks(text, options, stop)
    {
        return chunks;
    }
    let heads = match format {
        TextFormat::Plain | TextFormat::Csv => Vec::new(),
        TextFormat::Markdown => headings(text),
    };
    let mut cursor = HeadingCursor::new(&heads);
    let plain = TextSplitter::new(config());
    let markdown = MarkdownSplitter::new(config());
    let mut chunks = Vec::new();
    for (window_start, window) in windows(text, WINDOW_BYTES) {
        let pieces: Box<dyn Iterator<Item = (usize, &str)>> = match format {
            TextFormat::Plain | TextFormat::Csv => Box::new(plain.chunk_indices(window)),
            TextFormat::Markdown => Box::new(markdown.chunk_indices(window)),
        };
        for (offset, piece) in pieces {
            if stop() {
                return None;
            }
            if piece.trim().is_empty() {
                continue;
            }
            let start = window_start + offset;
            chunks.push(TextChunk {
                position: u32::try_from(chunks.len()).unwrap_or(u32::MAX),
                text: piece.to_owned(),
                heading_path: cursor.path_at(start),
                token_count: u32::try_from(bpe.encode_ordinary(piece).len()).unwrap_or(u32::MAX),
                start,
            });
        }
    }
    Some(chunks)
}

/// The records of a CSV text with their byte offsets: lines, except that a line break inside
/// a quoted field continues the record (RFC 4180).
fn csv_records(text: &str) -> Vec<(usize, &str)> {
    let mut records = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (at, c) in text.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '\n' if !quoted => {
                let record = text[start..at].trim_end_matches('\r');
                if !record.trim().is_empty() {
                    records.push((start, record));
                }
                start = at + 1;
            }
            _ => {}
        }
    }
    if !text[start..].trim().is_empty() {
        records.push((start, text[start..].trim_end_matches('\r')));
    }
    records
}

/// Longest CSV row (the header included) counted as one, in bytes: longer ones are not a
/// table's rows, and are cut like plain text.
const MAX_CSV_ROW_BYTES: usize = 16 * 1024;

/// CSV chunks: the header row, then as many whole rows as fit in the size (a row too long on
/// its own is cut by the plain splitter, each piece still after the header). `None` (read as
/// plain text instead) when the header takes more than a quarter of a chunk; `Some(None)`
/// when `stop` said stop.
fn csv_chunks(
    text: &str,
    options: ChunkOptions,
    stop: &dyn Fn() -> bool,
) -> Option<Option<Vec<TextChunk>>> {
    let bpe = tiktoken_rs::cl100k_base_singleton();
    let count = |s: &str| bpe.encode_ordinary(s).len();
    let records = csv_records(text);
    let Some(((_, header), rows)) = records.split_first() else {
        return Some(Some(Vec::new()));
    };
    if header.len() > MAX_CSV_ROW_BYTES {
        return None;
    }
    let header_tokens = count(header) + 1;
    if header_tokens > options.max_tokens / 4 {
        return None;
    }
    let budget = options.max_tokens - header_tokens;
    let mut chunks: Vec<TextChunk> = Vec::new();
    let push = |start: usize, body: &str, chunks: &mut Vec<TextChunk>| {
        let text = format!("{header}\n{body}");
        chunks.push(TextChunk {
            position: u32::try_from(chunks.len()).unwrap_or(u32::MAX),
            token_count: u32::try_from(count(&text)).unwrap_or(u32::MAX),
            text,
            heading_path: Vec::new(),
            start,
        });
    };
    if rows.is_empty() {
        push(0, "", &mut chunks);
        chunks[0].text = (*header).to_owned();
        return Some(Some(chunks));
    }
    let mut body = String::new();
    let mut body_start = 0;
    let mut body_tokens = 0;
    for &(start, row) in rows {
        if stop() {
            return Some(None);
        }
        // A row too long to count cheaply is too long for one chunk anyway.
        let tokens = if row.len() > MAX_CSV_ROW_BYTES {
            usize::MAX
        } else {
            count(row) + 1
        };
        if tokens > budget {
            if !body.is_empty() {
                push(body_start, &body, &mut chunks);
                body.clear();
                body_tokens = 0;
            }
            let plain = ChunkOptions {
                max_tokens: budget,
                overlap_tokens: 0,
            };
            let Some(pieces) = chunk_text_with(row, TextFormat::Plain, plain, stop) else {
                return Some(None);
            };
            for piece in pieces {
                push(start + piece.start, &piece.text, &mut chunks);
            }
            continue;
        }
        if body_tokens + tokens > budget && !body.is_empty() {
            push(body_start, &body, &mut chunks);
            body.clear();
            body_tokens = 0;
        }
        if body.is_empty() {
            body_start = start;
        } else {
            body.push('\n');
        }
        body.push_str(row);
        body_tokens += tokens;
    }
    if !body.is_empty() {
        push(body_start, &body, &mut chunks);
    }
    Some(Some(chunks))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUIDE: &str = "# Shop guide\n\nWelcome.\n\n## Refunds\n\nRefunds take five days. \
        Keep the receipt.\n\n```sh\n# not a heading\n```\n\n### Exceptions\n\nSale items are final.\n\n\
        ## Shipping\n\nShipping is free above 50 euros.\n";

    #[test]
    fn markdown_chunks_know_their_headings() {
        let chunks = chunk_text(
            GUIDE,
            TextFormat::Markdown,
            ChunkOptions {
                max_tokens: 12,
                overlap_tokens: 0,
            },
        );
        let find = |needle: &str| {
            chunks
                .iter()
                .find(|c| c.text.contains(needle))
                .unwrap_or_else(|| panic!("{needle} in {chunks:#?}"))
        };
        assert_eq!(
            find("Sale items").heading_path,
            ["Shop guide", "Refunds", "Exceptions"]
        );
        assert_eq!(
            find("Shipping is free").heading_path,
            ["Shop guide", "Shipping"]
        );
        assert!(chunks.iter().all(|c| c.token_count <= 12), "{chunks:#?}");
        assert!(
            chunks
                .iter()
                .enumerate()
                .all(|(i, c)| c.position as usize == i && GUIDE[c.start..].starts_with(&c.text))
        );
    }

    #[test]
    fn plain_text_overlaps_and_respects_the_size() {
        let text = "One sentence here. ".repeat(200);
        let chunks = chunk_text(
            &text,
            TextFormat::Plain,
            ChunkOptions {
                max_tokens: 50,
                overlap_tokens: 10,
            },
        );
        assert!(chunks.len() > 10);
        assert!(
            chunks
                .iter()
                .all(|c| c.token_count <= 50 && c.heading_path.is_empty())
        );
        assert!(
            chunks
                .windows(2)
                .all(|w| w[1].start < w[0].start + w[0].text.len()),
            "neighbours overlap"
        );
        assert!(chunk_text("   \n ", TextFormat::Plain, ChunkOptions::default()).is_empty());
        let one = chunk_text(
            "مرحبا 🤖 hello",
            TextFormat::Markdown,
            ChunkOptions::default(),
        );
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].text, "مرحبا 🤖 hello");
    }

    #[test]
    fn windows_cover_the_text_and_cut_at_the_best_boundary() {
        let shapes = [
            "x".repeat(100_000),                  // one line, no spaces
            "word ".repeat(20_000),               // one giant paragraph
            "line\n".repeat(20_000),              // short lines
            "# H\n\ntext text\n\n".repeat(5_000), // many headings
            "é🤖".repeat(20_000),                 // multi-byte, no boundary
        ];
        for text in &shapes {
            let cut = windows(text, 4096);
            assert_eq!(cut.iter().map(|(_, w)| *w).collect::<String>(), *text);
            assert!(cut.iter().all(|(_, w)| w.len() <= 4096));
            assert!(cut.windows(2).all(|p| p[0].0 + p[0].1.len() == p[1].0));
            assert!(
                cut.len() <= text.len() / 2048 + 1,
                "windows are at least half full"
            );
        }
        let sections = windows(&shapes[3], 4096);
        assert!(sections[1..].iter().all(|(_, w)| w.starts_with("# H")));
        let paragraph = windows(&shapes[1], 4096);
        assert!(
            paragraph[..paragraph.len() - 1]
                .iter()
                .all(|(_, w)| w.ends_with(' '))
        );
    }

    #[test]
    fn every_csv_chunk_starts_with_the_header() {
        let mut csv = String::from("sku,name,price,stock\n");
        for i in 0..1000 {
            csv.push_str(&format!(
                "SKU-{i},\"Kettle, model {i}\",{}.99,{}\n",
                10 + i % 90,
                i % 7
            ));
        }
        csv.push_str("SKU-X,\"Note with\na line break\",1.00,1\n");
        let chunks = chunk_text(
            &csv,
            TextFormat::Csv,
            ChunkOptions {
                max_tokens: 64,
                overlap_tokens: 8,
            },
        );
        assert!(chunks.len() > 20, "{}", chunks.len());
        assert!(
            chunks
                .iter()
                .all(|c| c.text.starts_with("sku,name,price,stock\n"))
        );
        assert!(chunks.iter().all(|c| c.token_count <= 64), "{chunks:#?}");
        let row_600 = chunks.iter().find(|c| c.text.contains("SKU-600,")).unwrap();
        assert!(row_600.text.contains("Kettle, model 600"));
        let last = chunks.last().unwrap();
        assert!(
            last.text.contains("Note with\na line break"),
            "quoted line breaks stay in the row"
        );
        assert!(
            chunks
                .iter()
                .enumerate()
                .all(|(i, c)| c.position as usize == i)
        );
    }

    #[test]
    fn degenerate_shapes_chunk_within_the_size() {
        let options = ChunkOptions::default();
        for text in [
            "x".repeat(300_000),
            "é ".repeat(100_000),
            "# a\n".repeat(50_000),
        ] {
            let chunks = chunk_text(&text, TextFormat::Markdown, options);
            assert!(!chunks.is_empty());
            assert!(
                chunks
                    .iter()
                    .all(|c| c.token_count as usize <= options.max_tokens)
            );
            assert!(chunks.iter().all(|c| text[c.start..].starts_with(&c.text)));
            assert!(chunks.windows(2).all(|w| w[0].start < w[1].start));
        }
        let stopped = chunk_text_with(
            "a b c ".repeat(10_000).as_str(),
            TextFormat::Plain,
            options,
            &|| true,
        );
        assert_eq!(stopped, None);
    }
}
