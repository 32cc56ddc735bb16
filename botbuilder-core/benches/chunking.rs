//! Chunking speed by shape and size: linear in the text whatever its shape.
//!
//! Each shape is chunked at 256 KiB and at 1 MiB (four times more); linear work shows as
//! four times the time. Shapes: prose (paragraphs), one line without spaces, one giant
//! paragraph of words, many headings, a CSV table.

use botbuilder_core::knowledge::{ChunkOptions, TextFormat, chunk_text};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn shapes(bytes: usize) -> Vec<(&'static str, String, TextFormat)> {
    let repeat = |unit: &str| unit.repeat(bytes / unit.len() + 1)[..bytes].to_owned();
    let mut csv = String::from("sku,name,price\n");
    let mut i = 0;
    while csv.len() < bytes {
        csv.push_str(&format!("SKU-{i},Kettle model {i},{}.99\n", i % 90));
        i += 1;
    }
    vec![
        (
            "prose",
            repeat("Refunds are paid within five days of the return. Keep your receipt.\n\n"),
            TextFormat::Plain,
        ),
        ("one_line_no_spaces", "x".repeat(bytes), TextFormat::Plain),
        ("giant_paragraph", repeat("word "), TextFormat::Plain),
        (
            "many_headings",
            repeat("## Heading\n\nShort text.\n\n"),
            TextFormat::Markdown,
        ),
        ("csv", csv, TextFormat::Csv),
    ]
}

fn chunking(c: &mut Criterion) {
    let mut group = c.benchmark_group("chunk_text");
    group.sample_size(10);
    for bytes in [256 * 1024, 1024 * 1024] {
        for (name, text, format) in shapes(bytes) {
            group.throughput(Throughput::Bytes(text.len() as u64));
            group.bench_with_input(BenchmarkId::new(name, bytes), &text, |b, text| {
                b.iter(|| chunk_text(text, format, ChunkOptions::default()));
            });
        }
    }
    group.finish();
}

criterion_group!(benches, chunking);
criterion_main!(benches);
