//! From uploaded bytes to text: which media types a knowledge base accepts, and how they read.

use super::chunk::TextFormat;

/// Why a document's text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ExtractError {
    /// The media type is not one a knowledge base reads.
    #[error("unsupported content type `{0}`")]
    Unsupported(String),
    /// Text that is not UTF-8.
    #[error("the text is not valid UTF-8")]
    NotUtf8,
    /// Nothing readable in it.
    #[error("the document contains no text")]
    Empty,
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

/// Whether a knowledge base can read `content_type`.
pub fn is_supported(content_type: &str) -> bool {
    let essence = essence(content_type);
    PLAIN_TYPES.contains(&essence.as_str()) || MARKDOWN_TYPES.contains(&essence.as_str())
}

/// The text of a document and how it is structured.
pub fn extract(content_type: &str, bytes: &[u8]) -> Result<(String, TextFormat), ExtractError> {
    let essence = essence(content_type);
    let format = if MARKDOWN_TYPES.contains(&essence.as_str()) {
        TextFormat::Markdown
    } else if PLAIN_TYPES.contains(&essence.as_str()) {
        TextFormat::Plain
    } else {
        return Err(ExtractError::Unsupported(essence));
    };
    let text = std::str::from_utf8(bytes).map_err(|_| ExtractError::NotUtf8)?;
    let text = text
        .strip_prefix('\u{feff}')
        .unwrap_or(text)
        .replace('\0', "");
    if text.trim().is_empty() {
        return Err(ExtractError::Empty);
    }
    Ok((text, format))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_types_are_read_and_others_refused() {
        let (text, format) = extract("text/markdown; charset=utf-8", "# Hi 🤖".as_bytes()).unwrap();
        assert_eq!((text.as_str(), format), ("# Hi 🤖", TextFormat::Markdown));
        assert_eq!(
            extract("TEXT/PLAIN", b"\xef\xbb\xbfhello").unwrap().0,
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
}
