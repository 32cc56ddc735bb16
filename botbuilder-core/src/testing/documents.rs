//! Documents for tests of ingestion: small valid PDFs built byte by byte, and hostile ones.

/// A one-page PDF showing `lines` in Helvetica (uncompressed, with a correct cross-reference
/// table), readable by any PDF reader.
pub fn pdf_with_text(lines: &[&str]) -> Vec<u8> {
    let mut content = String::from("BT /F1 12 Tf 72 720 Td 14 TL\n");
    for line in lines {
        let escaped = line
            .replace('\\', "\\\\")
            .replace('(', "\\(")
            .replace(')', "\\)");
        content.push_str(&format!("({escaped}) Tj T*\n"));
    }
    content.push_str("ET\n");
    pdf_from_objects(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
           /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_vec(),
        stream_object(b"", content.as_bytes()),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    ])
}

/// A small PDF whose page content is `inflated_bytes` of spaces compressed about a thousand to
/// one: a decompression bomb when `inflated_bytes` is large.
#[cfg(feature = "pdf")]
pub fn pdf_bomb(inflated_bytes: usize) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    let block = vec![b' '; 1 << 20];
    let mut left = inflated_bytes;
    while left > 0 {
        let n = left.min(block.len());
        encoder.write_all(&block[..n]).expect("in memory");
        left -= n;
    }
    let compressed = encoder.finish().expect("in memory");
    pdf_from_objects(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>".to_vec(),
        stream_object(b"/Filter /FlateDecode", &compressed),
    ])
}

/// A PDF whose page draws a Form XObject that draws itself (`/X1 Do` inside `/X1`): a
/// recursive reader overflows its stack on it.
pub fn pdf_self_drawing_form() -> Vec<u8> {
    pdf_from_objects(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
           /Resources << /XObject << /X1 5 0 R >> >> >>"
            .to_vec(),
        stream_object(b"", b"/X1 Do"),
        stream_object(
            b"/Type /XObject /Subtype /Form /BBox [0 0 100 100] \
              /Resources << /XObject << /X1 5 0 R >> >>",
            b"/X1 Do",
        ),
    ])
}

/// A PDF whose page's `/Parent` chain points in a circle: the page inherits its resources
/// and media box, and looking them up walks `/Parent` links that never end. A reader that
/// follows them without remembering where it has been never stops (or overflows its stack).
pub fn pdf_circular_page_tree() -> Vec<u8> {
    pdf_from_objects(&[
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 4 0 R /Contents 5 0 R >>".to_vec(),
        b"<< /Type /Pages /Parent 6 0 R /Kids [3 0 R] /Count 1 >>".to_vec(),
        stream_object(b"", b"BT /F1 12 Tf (loop) Tj ET"),
        b"<< /Type /Pages /Parent 4 0 R /Kids [4 0 R] /Count 1 >>".to_vec(),
    ])
}

/// An HTML page of `depth` nested `<div>`s around one word.
pub fn html_nested(depth: usize) -> Vec<u8> {
    let mut page = b"<!doctype html><html><body>".to_vec();
    page.extend(b"<div>".repeat(depth));
    page.extend_from_slice(b"deep");
    page.extend(b"</div>".repeat(depth));
    page.extend_from_slice(b"</body></html>");
    page
}

fn stream_object(extra: &[u8], data: &[u8]) -> Vec<u8> {
    let mut object = format!("<< /Length {} ", data.len()).into_bytes();
    object.extend_from_slice(extra);
    object.extend_from_slice(b" >>\nstream\n");
    object.extend_from_slice(data);
    object.extend_from_slice(b"\nendstream");
    object
}

/// Numbers the objects from 1, writes them with a cross-reference table and a trailer whose
/// root is object 1.
fn pdf_from_objects(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut pdf = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::with_capacity(objects.len());
    for (i, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        pdf.extend_from_slice(object);
        pdf.extend_from_slice(b"\nendobj\n");
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}
