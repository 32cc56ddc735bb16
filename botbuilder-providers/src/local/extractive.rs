//! The extractive answerer of [`super::LocalProvider`]: answers from numbered sources with
//! their own sentences, never with words of its own.
//!
//! The context lists sources best-ranked first, as `[n] label` then the passage. Every prose
//! sentence of the first [`MAX_SOURCES`] sources is scored by the question's content words it
//! shares, plus a point per question word in its source's label (the document title and
//! headings: a `tokio` question prefers the `tokio` README), times a weight falling with the
//! source's rank. The answer is the best sentence with the next best of the same source (in
//! their order), then the best of one other source when it scores nearly as well, each group
//! cited `[n]`. A sentence introducing a code block (ending in `:`, or the last of its
//! paragraph before the code) brings the code block along, verbatim.
//!
//! What is not prose is never an answer: headings, tables, badges and images, link reference
//! definitions (`[docs]: https://…`), lines that are only links, HTML tags, front matter.

use botbuilder_core::knowledge::STOPWORDS;

/// Sources considered, best-ranked first.
pub(crate) const MAX_SOURCES: usize = 4;
/// Sentences taken from the best source.
const SENTENCES_PER_SOURCE: usize = 2;
/// How much each lower rank weighs less (rank 1: 1.0, rank 2: 0.9, ...).
const RANK_DECAY: f32 = 0.1;
/// What a question word found in a source's label (title, headings) adds to each of its
/// sentences that share a word with the question: the label says what the source is about.
const LABEL_WEIGHT: f32 = 1.0;
/// A second source joins the answer when its best sentence scores at least this share of
/// the best one.
const SECOND_SOURCE_SHARE: f32 = 0.8;

/// Lower-case words longer than two letters, stopwords left out.
fn content_words(text: &str) -> Vec<String> {
    let mut words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() > 2)
        .map(str::to_lowercase)
        .filter(|w| !STOPWORDS.contains(&w.as_str()))
        .collect();
    words.sort_unstable();
    words.dedup();
    words
}

/// The numbered sources of a context block: (number, label, passage), in order.
fn sources(context: &str) -> Vec<(usize, &str, &str)> {
    let mut found = Vec::new();
    for n in 1..=MAX_SOURCES {
        let head = format!("[{n}] ");
        let start = if n == 1 {
            match context.strip_prefix(head.as_str()) {
                Some(_) => head.len(),
                None => break,
            }
        } else {
            match context.find(&format!("\n\n{head}")) {
                Some(at) => at + 2 + head.len(),
                None => break,
            }
        };
        let rest = &context[start..];
        let (label, body) = rest.split_once('\n').unwrap_or((rest, ""));
        let end = body
            .find(&format!("\n\n[{}] ", n + 1))
            .unwrap_or(body.len());
        found.push((n, label.trim(), body[..end].trim()));
    }
    found
}

/// One block of a passage: a paragraph of prose, or a fenced code block.
#[derive(Debug, Clone, PartialEq)]
enum Block<'a> {
    Prose(String),
    Code(&'a str),
}

/// Whether a line carries no prose: a heading, table row, badge or image, link reference
/// definition, a line of links only, an HTML tag, front matter.
fn is_furniture(line: &str) -> bool {
    let line = line.trim();
    if line.starts_with('#')
        || line.starts_with('|')
        || line.starts_with("![")
        || line.starts_with("[![")
        || line.starts_with('<')
        || line == "---"
    {
        return true;
    }
    // `[label]: https://…`
    if line.starts_with('[')
        && let Some((label, rest)) = line.split_once("]:")
        && !label.contains(']')
        && !rest.trim().contains(' ')
    {
        return true;
    }
    // Only links and images: nothing left once they are taken out.
    let mut rest = line.to_owned();
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find("](").map(|c| c + open) else {
            break;
        };
        let Some(end) = rest[close..].find(')').map(|e| e + close) else {
            break;
        };
        rest.replace_range(
            open.saturating_sub(usize::from(rest[..open].ends_with('!')))..=end,
            " ",
        );
    }
    let rest = rest.trim_matches(|c: char| c.is_whitespace() || "|·•-*,".contains(c));
    rest.is_empty() || rest.starts_with("http://") || rest.starts_with("https://")
}

/// The blocks of a Markdown passage.
fn blocks(passage: &str) -> Vec<Block<'_>> {
    let mut out = Vec::new();
    let mut prose: Vec<&str> = Vec::new();
    // Lines with their endings, so offsets stay exact whatever the line breaks (`\r\n`).
    let mut lines = passage.split_inclusive('\n');
    let mut offset = 0;
    let flush = |prose: &mut Vec<&str>, out: &mut Vec<Block<'_>>| {
        let text = prose
            .iter()
            .map(|l| l.trim().trim_start_matches(['-', '*', '>']).trim())
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join(" ");
        if !text.is_empty() {
            out.push(Block::Prose(text));
        }
        prose.clear();
    };
    while let Some(raw) = lines.next() {
        let line_start = offset;
        offset += raw.len();
        let line = raw.trim_end_matches(['\n', '\r']);
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            flush(&mut prose, &mut out);
            let fence = &trimmed[..3];
            for code_line in lines.by_ref() {
                offset += code_line.len();
                if code_line.trim_start().starts_with(fence) {
                    break;
                }
            }
            out.push(Block::Code(passage[line_start..offset].trim_end()));
        } else if line.trim().is_empty() || is_furniture(line) {
            flush(&mut prose, &mut out);
        } else {
            prose.push(line);
        }
    }
    flush(&mut prose, &mut out);
    out
}

/// Splits text into sentences (after `.`, `!`, `?` followed by a space, or the end).
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for (i, (at, c)) in chars.iter().enumerate() {
        let next_is_space = chars.get(i + 1).is_none_or(|(_, n)| n.is_whitespace());
        if matches!(c, '.' | '!' | '?') && next_is_space {
            let end = at + c.len_utf8();
            let piece = text[start..end].trim();
            if !piece.is_empty() {
                out.push(piece);
            }
            start = end;
        }
    }
    let tail = text[start..].trim();
    if !tail.is_empty() {
        out.push(tail);
    }
    out
}

/// A candidate sentence: its source, its block, its place, its text and score.
#[derive(Debug)]
struct Candidate<'a> {
    source: usize,
    block: usize,
    order: usize,
    text: &'a str,
    score: f32,
}

/// The answer to `question` from `context` (see the module docs); `None` when no source
/// has prose.
pub(crate) fn answer(context: &str, question: &str) -> Option<String> {
    let asked = content_words(question);
    let found = sources(context);
    let parsed: Vec<(usize, Vec<Block<'_>>)> = found
        .iter()
        .map(|(n, _, body)| (*n, blocks(body)))
        .collect();
    let mut candidates: Vec<Candidate<'_>> = Vec::new();
    for (rank, ((_, label, _), (_, blocks))) in found.iter().zip(&parsed).enumerate() {
        let label_words = content_words(label);
        let label_hits = asked.iter().filter(|w| label_words.contains(w)).count();
        #[allow(clippy::cast_precision_loss)] // small counts
        let weight = 1.0 - RANK_DECAY * rank as f32;
        let mut order = 0;
        for (b, block) in blocks.iter().enumerate() {
            let Block::Prose(text) = block else { continue };
            for sentence in sentences(text) {
                let words = content_words(sentence);
                let hits = asked.iter().filter(|w| words.contains(w)).count();
                #[allow(clippy::cast_precision_loss)]
                let score = if hits == 0 {
                    0.0
                } else {
                    (hits as f32 + LABEL_WEIGHT * label_hits as f32) * weight
                };
                candidates.push(Candidate {
                    source: rank,
                    block: b,
                    order,
                    text: sentence,
                    score,
                });
                order += 1;
            }
        }
    }
    if candidates.is_empty() {
        return None;
    }
    let best = candidates
        .iter()
        .enumerate()
        .max_by(|(ia, a), (ib, b)| a.score.total_cmp(&b.score).then(ib.cmp(ia)))
        .map(|(i, _)| i)?;
    if candidates[best].score == 0.0 {
        // Nothing matches a word: the opening of the best-ranked source with prose.
        let source = candidates[0].source;
        let opening: Vec<&Candidate<'_>> = candidates
            .iter()
            .filter(|c| c.source == source)
            .take(SENTENCES_PER_SOURCE)
            .collect();
        return Some(group(&opening, &parsed[source], found[source].0));
    }
    let lead_source = candidates[best].source;
    let mut groups = Vec::new();
    let mut mine: Vec<&Candidate<'_>> = candidates
        .iter()
        .filter(|c| c.source == lead_source && c.score > 0.0)
        .collect();
    mine.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.order.cmp(&b.order)));
    mine.truncate(SENTENCES_PER_SOURCE);
    mine.sort_by_key(|c| c.order);
    groups.push(group(&mine, &parsed[lead_source], found[lead_source].0));
    let runner_up = candidates
        .iter()
        .filter(|c| c.source != lead_source)
        .max_by(|a, b| a.score.total_cmp(&b.score).then(b.order.cmp(&a.order)));
    if let Some(other) = runner_up
        && other.score >= SECOND_SOURCE_SHARE * candidates[best].score
    {
        groups.push(group(
            &[other],
            &parsed[other.source],
            found[other.source].0,
        ));
    }
    Some(groups.join("\n\n"))
}

/// Sentences of one source, cited `[n]`, with the code block that follows the last one when
/// it introduces code.
fn group(chosen: &[&Candidate<'_>], source: &(usize, Vec<Block<'_>>), n: usize) -> String {
    let text = chosen.iter().map(|c| c.text).collect::<Vec<_>>().join(" ");
    let mut out = format!("{text} [{n}]");
    if let Some(last) = chosen.last()
        && let Some(Block::Code(code)) = source.1.get(last.block + 1)
    {
        let ends_block = match &source.1[last.block] {
            Block::Prose(p) => sentences(p).last() == Some(&last.text),
            Block::Code(_) => false,
        };
        if last.text.ends_with(':') || ends_block {
            out.push_str("\n\n");
            out.push_str(code);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_best_sentences_of_the_best_source_answer_with_a_citation() {
        let context = "[1] Shop guide › Refunds\nKeep your receipt. Refunds are paid within five \
            days of the return. We love our customers.\n\n[2] Shop guide › Shipping\nShipping is free.";
        assert_eq!(
            answer(context, "How many days until refunds are paid?").as_deref(),
            Some("Refunds are paid within five days of the return. [1]")
        );
    }

    #[test]
    fn a_lower_ranked_source_about_the_subject_wins() {
        // Retrieval ranked the tracing README first; the question is about tokio, and the
        // tokio README's label says so.
        let context = "[1] tracing › README\nUse tracing with any async runtime.\n\n\
            [2] docs › README\nThe runtime schedules tasks.\n\n\
            [3] hyper › README\nhyper is an HTTP library.\n\n\
            [4] tokio › README › Getting started\nTokio is an asynchronous runtime for Rust. \
            Add it to your project:\n\n```toml\n[dependencies]\ntokio = { version = \"1\", features = [\"full\"] }\n```\n";
        let said = answer(context, "How do I add tokio as an async runtime?").unwrap();
        assert!(
            said.starts_with("Tokio is an asynchronous runtime for Rust."),
            "{said}"
        );
        assert!(said.contains("[4]"), "{said}");
        assert!(
            said.contains("```toml\n[dependencies]\ntokio = "),
            "code kept: {said}"
        );
    }

    #[test]
    fn badges_links_and_tables_are_never_the_answer() {
        let context = "[1] tokio › README\n[![Crates.io](https://img.shields.io/crates/v/tokio.svg)](https://crates.io/crates/tokio)\n\
            [Website](https://tokio.rs) | [Guides](https://tokio.rs/tokio/tutorial)\n\
            [API Docs]: https://docs.rs/tokio\n\n| tokio | runtime |\n|---|---|\n\n\
            Tokio is a runtime for writing reliable network applications.";
        assert_eq!(
            answer(context, "What is tokio runtime?").as_deref(),
            Some("Tokio is a runtime for writing reliable network applications. [1]")
        );
        assert!(is_furniture("[docs]: https://docs.rs/tokio"));
        assert!(is_furniture(
            "[Website](https://tokio.rs) | [Guides](https://tokio.rs/t)"
        ));
        assert!(!is_furniture("See [the guide](https://tokio.rs) for more."));
    }

    #[test]
    fn a_second_source_joins_when_it_answers_as_well() {
        let context = "[1] Returns\nRefunds are paid within five days.\n\n\
            [2] Gift cards\nGift card refunds are paid within five days too.";
        let said = answer(context, "When are refunds paid?").unwrap();
        assert!(said.contains("[1]") && said.contains("[2]"), "{said}");
    }

    #[test]
    fn windows_line_breaks_and_wide_characters_are_read_whole() {
        let context = "[1] 手册\r\n说明\r\n中文\r\nInstall it like this:\r\n```sh\r\ncargo add tokio\r\n```\r\n";
        let said = answer(context, "How do I install it?").unwrap();
        assert!(said.contains("Install it like this: [1]"), "{said}");
        assert!(said.contains("```sh\r\ncargo add tokio\r\n```"), "{said}");
    }

    #[test]
    fn without_prose_there_is_no_answer() {
        assert_eq!(answer("[1] Table\n| a | b |\n|---|---|", "a?"), None);
        assert_eq!(
            sentences("Version 2.5 is out. Done!"),
            vec!["Version 2.5 is out.", "Done!"]
        );
    }
}
