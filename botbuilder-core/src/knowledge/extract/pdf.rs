//! PDF to text with `pdf-extract`, behind a guard against decompression bombs.
//!
//! `pdf-extract` (on `lopdf`) inflates every compressed stream it reads in memory, so a few
//! hundred kilobytes of zeros compressed a thousand to one would take the process down.
//! Before parsing, [`check_expansion`] inflates every Flate stream of the raw file into a
//! counter (twice for doubly compressed ones) and refuses the file when the total passes
//! [`MAX_EXPANDED_BYTES`]. Panics of the parser are caught by
//! [`super::extract_isolated`].

use std::io::Read;

use flate2::read::ZlibDecoder;

use super::ExtractError;

/// Most bytes the streams of one PDF may inflate to, in total (256 MiB).
pub(super) const MAX_EXPANDED_BYTES: u64 = 256 * 1024 * 1024;

/// The text of a PDF, pages separated by blank lines.
pub(super) fn to_text(bytes: &[u8]) -> Result<String, ExtractError> {
    if find(&bytes[..bytes.len().min(1024)], b"%PDF-").is_none() {
        return Err(ExtractError::Malformed(
            "not a PDF file (no %PDF- header)".into(),
        ));
    }
    check_expansion(bytes, MAX_EXPANDED_BYTES)?;
    let pages = pdf_extract::extract_text_from_mem_by_pages(bytes)
        .map_err(|e| ExtractError::Malformed(e.to_string()))?;
    Ok(pages
        .iter()
        .map(|page| page.trim())
        .filter(|page| !page.is_empty())
        .collect::<Vec<_>>()
        .join("\n\n"))
}

/// Refuses a PDF whose Flate streams inflate to more than `budget` bytes in total.
pub(super) fn check_expansion(bytes: &[u8], budget: u64) -> Result<(), ExtractError> {
    let mut total = 0u64;
    for data in streams(bytes) {
        total += inflated_size(data, budget.saturating_sub(total));
        if total > budget {
            return Err(ExtractError::Malformed(format!(
                "the PDF inflates to more than {} MiB (a decompression bomb?)",
                budget / 1024 / 1024
            )));
        }
    }
    Ok(())
}

/// The raw data of every `stream … endstream` in the file.
fn streams(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut at = 0;
    std::iter::from_fn(move || {
        loop {
            let found = find(&bytes[at..], b"stream")? + at;
            at = found + b"stream".len();
            if bytes[..found].ends_with(b"end") {
                continue; // the `stream` of `endstream`
            }
            let mut start = at;
            if bytes[start..].starts_with(b"\r\n") {
                start += 2;
            } else if bytes[start..].starts_with(b"\n") || bytes[start..].starts_with(b"\r") {
                start += 1;
            } else {
                continue; // the word in text, not the keyword
            }
            let end = find(&bytes[start..], b"endstream").map_or(bytes.len(), |e| e + start);
            at = end;
            return Some(&bytes[start..end]);
        }
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn looks_like_zlib(data: &[u8]) -> bool {
    matches!(data, [0x78, 0x01 | 0x5e | 0x9c | 0xda, ..])
}

/// A reader that counts what passes through it.
struct Counted<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// How many bytes `data` inflates to, reading no more than about `limit` (0 when it is not
/// zlib; a damaged stream counts what inflated before the damage). When the result is zlib
/// again (`/Filter [/FlateDecode /FlateDecode]`), the second pass counts too.
fn inflated_size(data: &[u8], limit: u64) -> u64 {
    if !looks_like_zlib(data) {
        return 0;
    }
    let mut outer = Counted {
        inner: ZlibDecoder::new(data).take(limit.saturating_add(1)),
        count: 0,
    };
    let mut head = [0u8; 2];
    if outer.read_exact(&mut head).is_err() {
        return outer.count;
    }
    let sink = &mut std::io::sink();
    if looks_like_zlib(&head) {
        let mut inner = ZlibDecoder::new(head.chain(&mut outer)).take(limit.saturating_add(1));
        let second = std::io::copy(&mut inner, sink).unwrap_or(0);
        drop(inner);
        outer.count + second
    } else {
        let _ = std::io::copy(&mut outer, sink);
        outer.count
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use flate2::Compression;
    use flate2::write::ZlibEncoder;

    use super::*;

    fn deflate(data: &[u8]) -> Vec<u8> {
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::best());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn pdf_with_stream(data: &[u8]) -> Vec<u8> {
        let mut pdf = b"%PDF-1.4\n1 0 obj << /Length 1 /Filter /FlateDecode >>\nstream\n".to_vec();
        pdf.extend_from_slice(data);
        pdf.extend_from_slice(b"\nendstream\nendobj\n%%EOF\n");
        pdf
    }

    #[test]
    fn a_stream_inflating_past_the_budget_is_refused() {
        let bomb = pdf_with_stream(&deflate(&vec![0u8; 4 << 20]));
        assert!(bomb.len() < 16 << 10, "{}", bomb.len());
        assert!(matches!(
            check_expansion(&bomb, 1 << 20),
            Err(ExtractError::Malformed(reason)) if reason.contains("bomb")
        ));
        assert_eq!(check_expansion(&bomb, 8 << 20), Ok(()));
    }

    #[test]
    fn doubly_compressed_bombs_are_counted_too() {
        let bomb = pdf_with_stream(&deflate(&deflate(&vec![0u8; 4 << 20])));
        assert!(check_expansion(&bomb, 1 << 20).is_err());
    }

    #[test]
    fn text_is_read_from_a_real_pdf() {
        let pdf = crate::testing::documents::pdf_with_text(&[
            "Refunds are paid within 14 days.",
            "Sale items (marked red) are final.",
        ]);
        let text = to_text(&pdf).unwrap();
        assert!(
            text.contains("Refunds are paid within 14 days."),
            "{text:?}"
        );
        assert!(
            text.contains("Sale items (marked red) are final."),
            "{text:?}"
        );
        // Through the public entry point, isolated like ingestion reads it.
        let read = super::super::extract("application/pdf", &pdf).unwrap();
        assert!(read.text.contains("14 days"));
    }

    #[test]
    fn a_real_bomb_fails_fast_without_inflating() {
        let bomb = crate::testing::documents::pdf_bomb(300 << 20);
        assert!(bomb.len() < 1 << 20, "{}", bomb.len());
        assert!(matches!(to_text(&bomb), Err(ExtractError::Malformed(r)) if r.contains("bomb")));
    }

    #[test]
    fn damaged_or_foreign_streams_count_nothing() {
        let pdf = pdf_with_stream(b"\x78\x9c not really zlib");
        assert_eq!(check_expansion(&pdf, 10), Ok(()));
        assert!(matches!(
            to_text(b"hello, I am not a PDF"),
            Err(ExtractError::Malformed(_))
        ));
    }
}
