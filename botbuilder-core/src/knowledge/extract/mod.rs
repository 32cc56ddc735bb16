//! From uploaded bytes to text: which media types a knowledge base accepts, and how they read.
//!
//! | media type | read as | needs feature |
//! |---|---|---|
//! | `text/plain` | plain text | — |
//! | `text/csv` | a table: chunks of whole rows, each with the header row | — |
//! | `text/markdown`, `text/x-markdown` | Markdown (headings kept for chunking) | — |
//! | `text/html`, `application/xhtml+xml` | Markdown-like text; scripts, styles, navigation, headers, footers and forms dropped | `html` |
//! | `application/pdf` | plain text, page by page | `pdf` |
//!
//! Text must be UTF-8. [`check_upload`] refuses what can be refused cheaply before a document
//! is stored (size, type, empty, not UTF-8).
//!
//! Ingestion reads documents through the [`DocumentExtractor`] port. Parsing an untrusted
//! file is the riskiest thing the platform does: a PDF whose form draws itself recurses until
//! the stack overflows (an abort no `catch_unwind` can stop), a page tree that points in a
//! circle loops forever, 100,000 nested elements exhaust a recursive renderer. So the port lets
//! parsing happen somewhere it can be killed: the reference server runs every parser-backed
//! format ([`needs_parser`]) in a separate process with limits on time, memory and stack.
//! [`InProcessExtractor`] reads on a blocking thread of this process (a panic becomes an
//! error, a time limit gives up waiting): for trusted documents, tests and programs that
//! cannot start a process.

#[cfg(feature = "html")]
mod html;
#[cfg(feature = "pdf")]
mod pdf;

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::chunk::TextFormat;

/// Largest document accepted, in bytes (50 MiB).
pub const MAX_DOCUMENT_BYTES: usize = 50 * 1024 * 1024;
/// Longest one extraction may take.
pub const EXTRACT_TIMEOUT: Duration = Duration::from_secs(120);

/// Why a document's text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[serde(tag = "kind", content = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExtractError {
    /// The media type is not one a knowledge base reads.
    #[error("unsupported content type `{0}`")]
    Unsupported(String),
    /// Larger than [`MAX_DOCUMENT_BYTES`].
    #[error("the document is larger than {} MiB", MAX_DOCUMENT_BYTES / 1024 / 1024)]
    TooLarge,
    /// Text that is not UTF-8.
    #[error("the text is not valid UTF-8")]
    NotUtf8,
    /// Nothing readable in it.
    #[error("the document contains no text")]
    Empty,
    /// The file is damaged or not what its type says (the parser's reason).
    #[error("the document cannot be read: {0}")]
    Malformed(String),
    /// Reading it took longer than its time limit ([`EXTRACT_TIMEOUT`] by default).
    #[error("reading the document took too long")]
    Timeout,
    /// The reader died on it (a stack overflow, too much memory, a killed process): the
    /// document is hostile or broken beyond reading.
    #[error("reading the document crashed the reader ({0})")]
    Crashed(String),
    /// The reader could not be started or answered nonsense (an operator problem, not the
    /// document's): worth retrying.
    #[error("the document reader is unavailable: {0}")]
    Unavailable(String),
}

impl ExtractError {
    /// Whether trying again may help (only when the reader itself was unavailable).
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Unavailable(_))
    }
}

/// The text of a document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Extracted {
    /// The text.
    pub text: String,
    /// How it is structured.
    pub format: TextFormat,
    /// The title the document gives itself (HTML `<title>`), if any.
    pub title: Option<String>,
}

/// The media type without parameters, lower-cased (`text/markdown; charset=utf-8` →
/// `text/markdown`).
pub fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Media types read as plain text.
pub const PLAIN_TYPES: [&str; 2] = ["text/plain", "text/csv"];
/// Media types read as Markdown.
pub const MARKDOWN_TYPES: [&str; 2] = ["text/markdown", "text/x-markdown"];
/// Media types read as HTML.
pub const HTML_TYPES: [&str; 2] = ["text/html", "application/xhtml+xml"];
/// The PDF media type.
pub const PDF_TYPE: &str = "application/pdf";

/// The kinds of document, by how they are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Plain,
    Markdown,
    Html,
    Pdf,
}

fn kind(content_type: &str) -> Option<Kind> {
    let essence = essence(content_type);
    let essence = essence.as_str();
    if PLAIN_TYPES.contains(&essence) {
        Some(Kind::Plain)
    } else if MARKDOWN_TYPES.contains(&essence) {
        Some(Kind::Markdown)
    } else if cfg!(feature = "html") && HTML_TYPES.contains(&essence) {
        Some(Kind::Html)
    } else if cfg!(feature = "pdf") && essence == PDF_TYPE {
        Some(Kind::Pdf)
    } else {
        None
    }
}

/// Whether a knowledge base can read `content_type` (with the features this build has).
pub fn is_supported(content_type: &str) -> bool {
    kind(content_type).is_some()
}

/// Whether reading `content_type` runs a parser over the bytes (HTML, PDF), as opposed to
/// taking text as it is: what an isolating [`DocumentExtractor`] must keep out of its host.
pub fn needs_parser(content_type: &str) -> bool {
    matches!(kind(content_type), Some(Kind::Html | Kind::Pdf))
}

/// Reads documents for ingestion (see the module docs).
///
/// Contract: the same result as [`extract`] for the same input, or an error saying why not;
/// never takes its caller down, whatever the bytes. Cancel safe: dropping the future stops
/// (or abandons) the work.
#[async_trait]
pub trait DocumentExtractor: Send + Sync + 'static {
    /// Stable id for logs (`"in-process"`, `"subprocess"`).
    fn id(&self) -> &str;

    /// The text of a document of type `content_type`.
    async fn extract(&self, content_type: &str, bytes: Vec<u8>) -> Result<Extracted, ExtractError>;
}

/// Reads documents inside this process (see the module docs): [`extract_isolated`] with a
/// time limit. A parser that overflows its stack still takes the process down.
#[derive(Debug, Clone, Copy)]
pub struct InProcessExtractor {
    /// Longest one extraction may take before it is abandoned.
    pub timeout: Duration,
}

impl Default for InProcessExtractor {
    fn default() -> Self {
        Self {
            timeout: EXTRACT_TIMEOUT,
        }
    }
}

#[async_trait]
impl DocumentExtractor for InProcessExtractor {
    fn id(&self) -> &str {
        "in-process"
    }

    async fn extract(&self, content_type: &str, bytes: Vec<u8>) -> Result<Extracted, ExtractError> {
        extract_within(content_type.to_owned(), bytes, self.timeout).await
    }
}

/// The media type a file name suggests (`guide.md` → `text/markdown`), for uploads that
/// arrive without a useful one (`application/octet-stream`) and for files read from disk.
pub fn content_type_for_name(name: &str) -> Option<&'static str> {
    let extension = name.rsplit_once('.')?.1.to_ascii_lowercase();
    Some(match extension.as_str() {
        "txt" | "text" => "text/plain",
        "csv" => "text/csv",
        "md" | "markdown" | "mdx" => "text/markdown",
        "html" | "htm" => "text/html",
        "xhtml" => "application/xhtml+xml",
        "pdf" => PDF_TYPE,
        _ => return None,
    })
}

/// Longest title taken from a document itself, in characters.
pub const MAX_OWN_TITLE_CHARS: usize = 200;

/// The title a document gives itself, found without running a parser (safe on any input,
/// linear in at most the first 64 KiB): a Markdown front-matter `title:` or the first `#`
/// heading; an HTML `<title>`, else the first `<h1>`. `None` for other types or when there is
/// none. Used when an upload names no title, so five `README.md` files get five titles.
pub fn own_title(content_type: &str, bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(64 * 1024)];
    let text = String::from_utf8_lossy(head);
    let found = match kind(content_type)? {
        Kind::Markdown => markdown_title(&text),
        Kind::Html => html_element_text(&text, "title").or_else(|| html_element_text(&text, "h1")),
        Kind::Plain | Kind::Pdf => None,
    }?;
    let tidy: String = found.split_whitespace().collect::<Vec<_>>().join(" ");
    // A document names itself: no NUL (no store keeps it), at most so many characters.
    let tidy: String = tidy
        .chars()
        .filter(|&c| c != '\0')
        .take(MAX_OWN_TITLE_CHARS)
        .collect();
    (!tidy.is_empty()).then_some(tidy)
}

fn markdown_title(text: &str) -> Option<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(rest) = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
    {
        for line in rest.lines() {
            if line.trim() == "---" {
                break;
            }
            if let Some(value) = line.strip_prefix("title:") {
                let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
                if !value.is_empty() {
                    return Some(value.to_owned());
                }
            }
        }
    }
    let mut fenced = false;
    for line in text.lines() {
        let trimmed = line.trim_start();
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            fenced = !fenced;
        } else if !fenced && let Some(title) = trimmed.strip_prefix("# ") {
            let title = title.trim().trim_end_matches('#').trim();
            if !title.is_empty() {
                return Some(title.to_owned());
            }
        }
    }
    None
}

/// The text inside the first `<tag …>…</tag>` of a page, tags stripped and the common
/// entities decoded (a plain search, no parser).
fn html_element_text(page: &str, tag: &str) -> Option<String> {
    let lower = page.to_ascii_lowercase();
    let open = format!("<{tag}");
    let mut from = 0;
    let start = loop {
        let at = lower[from..].find(&open)? + from;
        let after = lower.as_bytes().get(at + open.len())?;
        if *after == b'>' || after.is_ascii_whitespace() {
            break lower[at..].find('>')? + at + 1;
        }
        from = at + open.len();
    };
    let end = lower[start..].find(&format!("</{tag}"))? + start;
    let mut text = String::new();
    let mut in_tag = false;
    for c in page[start..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    Some(
        text.replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&nbsp;", " "),
    )
}

/// Refuses, before anything is stored, what can never be read: an unsupported type, more than
/// [`MAX_DOCUMENT_BYTES`], no bytes, and text that is not UTF-8 (documents that are text by
/// type). What needs parsing (an empty HTML body, a damaged PDF) fails later, in ingestion.
pub fn check_upload(content_type: &str, bytes: &[u8]) -> Result<(), ExtractError> {
    let kind =
        kind(content_type).ok_or_else(|| ExtractError::Unsupported(essence(content_type)))?;
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(ExtractError::TooLarge);
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ExtractError::Empty);
    }
    if kind != Kind::Pdf && std::str::from_utf8(bytes).is_err() {
        return Err(ExtractError::NotUtf8);
    }
    Ok(())
}

/// The text of a document, read on the calling thread (see [`DocumentExtractor`] for
/// untrusted input).
pub fn extract(content_type: &str, bytes: &[u8]) -> Result<Extracted, ExtractError> {
    let kind =
        kind(content_type).ok_or_else(|| ExtractError::Unsupported(essence(content_type)))?;
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(ExtractError::TooLarge);
    }
    let (text, format, title) = match kind {
        Kind::Plain | Kind::Markdown => {
            let text = std::str::from_utf8(bytes).map_err(|_| ExtractError::NotUtf8)?;
            let format = if kind == Kind::Markdown {
                TextFormat::Markdown
            } else if essence(content_type) == "text/csv" {
                TextFormat::Csv
            } else {
                TextFormat::Plain
            };
            (text.to_owned(), format, None)
        }
        #[cfg(feature = "html")]
        Kind::Html => {
            let page = std::str::from_utf8(bytes).map_err(|_| ExtractError::NotUtf8)?;
            let (text, title) = html::to_text(page)?;
            (text, TextFormat::Markdown, title)
        }
        #[cfg(feature = "pdf")]
        Kind::Pdf => (pdf::to_text(bytes)?, TextFormat::Plain, None),
        #[allow(unreachable_patterns)] // a type whose feature is off is never a `Kind`
        _ => return Err(ExtractError::Unsupported(essence(content_type))),
    };
    let text = text
        .strip_prefix('\u{feff}')
        .unwrap_or(&text)
        .replace('\0', "")
        .replace("\r\n", "\n");
    if text.trim().is_empty() {
        return Err(ExtractError::Empty);
    }
    Ok(Extracted {
        text,
        format,
        title,
    })
}

/// [`extract`] on a blocking thread: a panic in a parser becomes
/// [`ExtractError::Malformed`], and more than [`EXTRACT_TIMEOUT`] becomes
/// [`ExtractError::Timeout`] (the thread is left to finish on its own). Needs a Tokio runtime.
pub async fn extract_isolated(
    content_type: String,
    bytes: Vec<u8>,
) -> Result<Extracted, ExtractError> {
    extract_within(content_type, bytes, EXTRACT_TIMEOUT).await
}

/// The error for a parser that panicked: its message, as [`ExtractError::Malformed`].
pub fn parser_panicked(panic: &(dyn std::any::Any + Send)) -> ExtractError {
    let reason = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the parser crashed".to_owned());
    ExtractError::Malformed(reason)
}

async fn extract_within(
    content_type: String,
    bytes: Vec<u8>,
    timeout: Duration,
) -> Result<Extracted, ExtractError> {
    let work = tokio::task::spawn_blocking(move || {
        std::panic::catch_unwind(|| extract(&content_type, &bytes))
            .unwrap_or_else(|panic| Err(parser_panicked(panic.as_ref())))
    });
    match tokio::time::timeout(timeout, work).await {
        Ok(Ok(result)) => result,
        Ok(Err(join)) => Err(ExtractError::Malformed(join.to_string())),
        Err(_) => Err(ExtractError::Timeout),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_types_are_read_and_others_refused() {
        let read = extract("text/markdown; charset=utf-8", "# Hi 🤖".as_bytes()).unwrap();
        assert_eq!(
            (read.text.as_str(), read.format),
            ("# Hi 🤖", TextFormat::Markdown)
        );
        assert_eq!(
            extract("TEXT/PLAIN", b"\xef\xbb\xbfhello").unwrap().text,
            "hello"
        );
        assert_eq!(
            extract("image/png", b"x"),
            Err(ExtractError::Unsupported("image/png".into()))
        );
        assert_eq!(
            extract("text/plain", b"\xff\xfe"),
            Err(ExtractError::NotUtf8)
        );
        assert_eq!(extract("text/plain", b"  \n"), Err(ExtractError::Empty));
        assert!(is_supported("text/markdown"));
        assert!(!is_supported("application/x-msdownload"));
    }

    #[test]
    fn uploads_are_checked_before_they_are_stored() {
        assert_eq!(check_upload("text/plain", b"hello"), Ok(()));
        assert_eq!(check_upload("text/plain", b""), Err(ExtractError::Empty));
        assert_eq!(
            check_upload("text/plain", b" \n\t"),
            Err(ExtractError::Empty)
        );
        assert_eq!(
            check_upload("text/markdown", b"caf\xe9"),
            Err(ExtractError::NotUtf8)
        );
        assert_eq!(
            check_upload("application/zip", b"PK"),
            Err(ExtractError::Unsupported("application/zip".into()))
        );
        let big = vec![b'a'; MAX_DOCUMENT_BYTES + 1];
        assert_eq!(
            check_upload("text/plain", &big),
            Err(ExtractError::TooLarge)
        );
    }

    #[test]
    fn documents_name_themselves() {
        let title = |t: &str, b: &str| own_title(t, b.as_bytes());
        assert_eq!(
            title("text/markdown", "Intro text\n\n# tokio\n\n## Usage"),
            Some("tokio".into())
        );
        assert_eq!(
            title(
                "text/markdown",
                "---\ntitle: \"Getting started\"\n---\n# Other"
            ),
            Some("Getting started".into())
        );
        assert_eq!(
            title("text/markdown", "```\n# not a title\n```\nplain"),
            None
        );
        assert_eq!(title("text/plain", "# plain"), None);
    }

    /// HTML pages are read with the `html` feature only.
    #[cfg(feature = "html")]
    #[test]
    fn html_pages_name_themselves() {
        let title = |t: &str, b: &str| own_title(t, b.as_bytes());
        assert_eq!(
            title(
                "text/html",
                "<html><head><TITLE>Returns &amp; refunds</TITLE>"
            ),
            Some("Returns & refunds".into())
        );
        assert_eq!(
            title("text/html", "<body><h1 class=x>Warranty <b>terms</b></h1>"),
            Some("Warranty terms".into())
        );
        assert_eq!(title("text/html", "<titles>no</titles>"), None);
    }

    #[test]
    fn file_names_suggest_types() {
        assert_eq!(content_type_for_name("Guide.MD"), Some("text/markdown"));
        assert_eq!(content_type_for_name("a/b/page.htm"), Some("text/html"));
        assert_eq!(content_type_for_name("paper.pdf"), Some(PDF_TYPE));
        assert_eq!(content_type_for_name("notes.txt"), Some("text/plain"));
        assert_eq!(content_type_for_name("binary.exe"), None);
        assert_eq!(content_type_for_name("README"), None);
    }

    #[tokio::test]
    async fn isolated_extraction_reads_like_extraction() {
        let read = extract_isolated("text/plain".into(), b"hello".to_vec())
            .await
            .unwrap();
        assert_eq!(read.text, "hello");
        assert_eq!(
            extract_isolated("text/plain".into(), b"\xff".to_vec()).await,
            Err(ExtractError::NotUtf8)
        );
    }
}
