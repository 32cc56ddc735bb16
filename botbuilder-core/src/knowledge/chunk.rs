//! Cutting documents into token-sized, overlapping chunks that keep their place: position
//! and the Markdown headings they sit under.
//!
//! Splitting follows the text's own structure (sections, then paragraphs, sentences, words;
//! via `text-splitter`), so a chunk ends at the largest boundary that fits. Sizes are counted
//! in `cl100k_base` tokens, the same measure prompts are budgeted in.

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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextFormat {
    /// Plain text: paragraphs, sentences, words.
    Plain,
    /// Markdown: sections and blocks first; chunks carry their heading path.
    Markdown,
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

/// The headings in force at `offset`, outermost first.
fn path_at(headings: &[(usize, usize, String)], offset: usize) -> Vec<String> {
    let mut stack: Vec<(usize, &str)> = Vec::new();
    for (_, level, title) in headings.iter().take_while(|(at, _, _)| *at <= offset) {
        while stack.last().is_some_and(|(l, _)| *l >= *level) {
            stack.pop();
        }
        stack.push((*level, title));
    }
    stack.into_iter().map(|(_, t)| t.to_owned()).collect()
}

/// Cuts `text` (see the module docs).
pub fn chunk_text(text: &str, format: TextFormat, options: ChunkOptions) -> Vec<TextChunk> {
    let bpe = tiktoken_rs::cl100k_base_singleton();
    let max = options.max_tokens.max(1);
    // The overlap is clamped below the size, which is all `with_overlap` checks.
    let config = ChunkConfig::new(max)
        .with_sizer(bpe)
        .with_overlap(options.overlap_tokens.min(max - 1))
        .unwrap_or_else(|_| ChunkConfig::new(max).with_sizer(bpe));
    let pieces: Vec<(usize, &str)> = match format {
        TextFormat::Plain => TextSplitter::new(config).chunk_indices(text).collect(),
        TextFormat::Markdown => MarkdownSplitter::new(config).chunk_indices(text).collect(),
    };
    let heads = match format {
        TextFormat::Plain => Vec::new(),
        TextFormat::Markdown => headings(text),
    };
    pieces
        .into_iter()
        .filter(|(_, piece)| !piece.trim().is_empty())
        .enumerate()
        .map(|(i, (start, piece))| TextChunk {
            position: u32::try_from(i).unwrap_or(u32::MAX),
            text: piece.to_owned(),
            heading_path: path_at(&heads, start),
            token_count: u32::try_from(bpe.encode_ordinary(piece).len()).unwrap_or(u32::MAX),
            start,
        })
        .collect()
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
}
