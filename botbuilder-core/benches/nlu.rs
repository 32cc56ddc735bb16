//! NLU speed on a synthetic bot shaped like CLINC150 (150 intents x 100 examples).
//!
//! - `nlu_train_15k`: training the classifier on 15,000 examples.
//! - `nlu_classify_150_intents`: classifying one query.
//! - `nlu_model_encode_15k` / `nlu_model_decode_15k`: that classifier to bytes and back (what
//!   an instance does instead of training when another instance shared the model; the size is
//!   printed).
//! - `entities_extract_builtins`: extracting every built-in entity from one message.
//!
//! Quality (and p50/p99 latency on the real data set) comes from the `nlu-eval` example.

use botbuilder_core::nlu::{
    BuiltinEntity, EntityDefinition, EntityExtractor, EntityKind, IntentClassifier, TrainOptions,
    TrainingExample,
};
use chrono::NaiveDate;
use criterion::{Criterion, criterion_group, criterion_main};

/// A deterministic xorshift generator, so every run benches the same data.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

fn word(rng: &mut Rng, min_len: usize, spread: usize) -> String {
    let len = min_len + rng.below(spread);
    (0..len)
        .map(|_| char::from(b'a' + rng.below(26) as u8))
        .collect()
}

/// 150 intents, each with 8 topic words, sentences of 6 to 11 words mixing topic words with
/// 300 shared filler words.
fn synthetic(rng: &mut Rng) -> (Vec<TrainingExample>, Vec<String>) {
    let fillers: Vec<String> = (0..300).map(|_| word(rng, 3, 5)).collect();
    let mut examples = Vec::new();
    let mut queries = Vec::new();
    for intent in 0..150 {
        let topic: Vec<String> = (0..8).map(|_| word(rng, 4, 6)).collect();
        for i in 0..101 {
            let len = 6 + rng.below(6);
            let text = (0..len)
                .map(|_| {
                    if rng.below(3) == 0 {
                        topic[rng.below(topic.len())].clone()
                    } else {
                        fillers[rng.below(fillers.len())].clone()
                    }
                })
                .collect::<Vec<_>>()
                .join(" ");
            if i == 100 {
                queries.push(text);
            } else {
                examples.push(TrainingExample::new(text, format!("intent_{intent}")));
            }
        }
    }
    (examples, queries)
}

fn nlu(c: &mut Criterion) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (examples, queries) = synthetic(&mut rng);
    let options = TrainOptions::default();

    let mut group = c.benchmark_group("nlu_train");
    group.sample_size(10);
    group.bench_function("nlu_train_15k", |b| {
        b.iter(|| IntentClassifier::train(&examples, &options).unwrap());
    });
    group.finish();

    let classifier = IntentClassifier::train(&examples, &options).unwrap();
    let mut i = 0;
    c.bench_function("nlu_classify_150_intents", |b| {
        b.iter(|| {
            i = (i + 1) % queries.len();
            classifier.classify(&queries[i])
        });
    });

    let bytes = classifier.encode();
    println!(
        "encoded classifier: {} bytes, {} features x {} intents",
        bytes.len(),
        classifier.feature_count(),
        classifier.intents().len()
    );
    c.bench_function("nlu_model_encode_15k", |b| b.iter(|| classifier.encode()));
    let mut group = c.benchmark_group("nlu_model_decode");
    group.sample_size(20);
    group.bench_function("nlu_model_decode_15k", |b| {
        b.iter(|| IntentClassifier::decode(&bytes).unwrap());
    });
    group.finish();

    let definitions: Vec<EntityDefinition> = BuiltinEntity::ALL
        .iter()
        .map(|b| EntityDefinition {
            name: format!("{b:?}"),
            kind: EntityKind::Builtin { builtin: *b },
        })
        .collect();
    let extractor = EntityExtractor::new(&definitions).unwrap();
    let today = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
    let message = "Hi, I'm ada@example.com, call +44 20 7946 0958 about order 42 \
                   tomorrow at 2:30 pm or see https://example.com/orders";
    c.bench_function("entities_extract_builtins", |b| {
        b.iter(|| extractor.extract(message, today));
    });
}

criterion_group!(benches, nlu);
criterion_main!(benches);
