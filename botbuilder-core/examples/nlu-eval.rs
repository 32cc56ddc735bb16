//! Reproduces the NLU quality and speed figures.
//!
//! ```sh
//! cargo run --release -p botbuilder-core --example nlu-eval -- \
//!     PATH/clinc150/data_full.json [PATH/snips]
//! ```
//!
//! CLINC150 protocol (its README): train on `train` (150 intents x 100 examples), pick the
//! confidence threshold on `val` + `oos_val`, report on `test` + `oos_test`: in-scope accuracy
//! (no threshold), in-scope accuracy and out-of-scope recall with the threshold, classify
//! latency p50/p99, and training time. Then, for bots of 10, 25, 50, 100 and 150 intents (the
//! first intents in name order), what the *default* threshold does: top-1 in-scope accuracy,
//! in-scope accuracy at the default threshold (the gap should stay within 3 points) and
//! out-of-scope recall. SNIPS (optional): accuracy on `test` after training on `train`, as a
//! smoke test.

use std::path::Path;
use std::time::Instant;

use botbuilder_core::nlu::{IntentClassifier, TrainOptions, TrainingExample};

type Labelled = Vec<(String, String)>;

fn clinc_split(data: &serde_json::Value, split: &str) -> Labelled {
    data[split]
        .as_array()
        .unwrap_or_else(|| panic!("split {split} missing"))
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap().to_owned(),
                pair[1].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn examples(data: &Labelled) -> Vec<TrainingExample> {
    data.iter()
        .map(|(text, intent)| TrainingExample::new(text.as_str(), intent.as_str()))
        .collect()
}

/// (best confidence, whether the best intent is right) for each in-scope text, and the best
/// confidence for each out-of-scope text.
fn confidences(
    c: &IntentClassifier,
    in_scope: &Labelled,
    oos: &Labelled,
) -> (Vec<(f32, bool)>, Vec<f32>) {
    let scored = in_scope
        .iter()
        .map(|(text, intent)| {
            let p = c.classify(text);
            (p.confidence, p.ranking[0].intent == *intent)
        })
        .collect();
    let oos = oos
        .iter()
        .map(|(text, _)| c.classify(text).confidence)
        .collect();
    (scored, oos)
}

/// In-scope accuracy and out-of-scope recall at `threshold`.
fn rates(scored: &[(f32, bool)], oos: &[f32], threshold: f32) -> (f64, f64) {
    let correct = scored
        .iter()
        .filter(|(conf, ok)| *ok && *conf >= threshold)
        .count();
    let rejected = oos.iter().filter(|conf| **conf < threshold).count();
    (
        correct as f64 / scored.len() as f64,
        rejected as f64 / oos.len() as f64,
    )
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn clinc(path: &Path) {
    let data: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read CLINC150")).expect("json");
    let train = clinc_split(&data, "train");
    let (val, oos_val) = (clinc_split(&data, "val"), clinc_split(&data, "oos_val"));
    let (test, oos_test) = (clinc_split(&data, "test"), clinc_split(&data, "oos_test"));

    let options = options_from_env();
    let start = Instant::now();
    let classifier = IntentClassifier::train(&examples(&train), &options).unwrap();
    let train_secs = start.elapsed().as_secs_f64();

    // Threshold: the one maximizing the mean of in-scope accuracy and out-of-scope recall on
    // val + oos_val (balanced: oos_val has 100 texts against 3,000 in scope).
    let (val_scored, val_oos) = confidences(&classifier, &val, &oos_val);
    let mut best = (0.0f32, 0.0f64);
    for step in 0..=1000 {
        let t = step as f32 / 1000.0;
        let (acc, recall) = rates(&val_scored, &val_oos, t);
        let balanced = (acc + recall) / 2.0;
        if balanced > best.1 {
            best = (t, balanced);
        }
    }
    let threshold = best.0;
    let (val_plain, _) = rates(&val_scored, &val_oos, 0.0);

    let (test_scored, test_oos) = confidences(&classifier, &test, &oos_test);
    let (plain, _) = rates(&test_scored, &test_oos, 0.0);
    let (in_scope, oos_recall) = rates(&test_scored, &test_oos, threshold);

    if std::env::var_os("NLU_CURVE").is_some() {
        let scale: f32 = std::env::var("NLU_CURVE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1.0);
        for step in (0..=100).step_by(2) {
            let t = step as f32 / 100.0 * scale;
            let (v_in, v_oos) = rates(&val_scored, &val_oos, t);
            let (t_in, t_oos) = rates(&test_scored, &test_oos, t);
            println!("  t={t:.2} val {v_in:.4}/{v_oos:.4} test {t_in:.4}/{t_oos:.4}");
        }
    }

    let mut latencies: Vec<f64> = test
        .iter()
        .chain(&oos_test)
        .map(|(text, _)| {
            let start = Instant::now();
            std::hint::black_box(classifier.classify(text));
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    latencies.sort_by(f64::total_cmp);

    println!(
        "CLINC150 ({} train examples, {} intents)",
        train.len(),
        classifier.intents().len()
    );
    println!("  training time            {train_secs:.2} s");
    println!(
        "  features                 {} ({:.0} MB of weights)",
        classifier.feature_count(),
        (classifier.feature_count() * classifier.intents().len() * 4) as f64 / 1e6
    );
    println!("  val in-scope accuracy    {val_plain:.4}");
    println!("  in-scope accuracy        {plain:.4}");
    println!("  threshold (tuned on val) {threshold:.3}");
    println!("  in-scope accuracy @thr   {in_scope:.4}");
    println!("  out-of-scope recall @thr {oos_recall:.4}");
    println!(
        "  classify latency         p50 {:.3} ms, p99 {:.3} ms",
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99)
    );
}

/// The default options, with optional overrides for tuning on the validation split:
/// `NLU_EPOCHS`, `NLU_LR`, `NLU_L2`, `NLU_TEMP`, `NLU_MIN_DF`.
fn options_from_env() -> TrainOptions {
    fn var<T: std::str::FromStr>(name: &str) -> Option<T> {
        std::env::var(name).ok().and_then(|v| v.parse().ok())
    }
    let mut options = TrainOptions::default();
    if let Some(v) = var("NLU_EPOCHS") {
        options.params.epochs = v;
    }
    if let Some(v) = var("NLU_LR") {
        options.params.learning_rate = v;
    }
    if let Some(v) = var("NLU_L2") {
        options.params.l2 = v;
    }
    if let Some(v) = var("NLU_TEMP") {
        options.params.temperature = v;
    }
    if let Some(v) = var("NLU_MIN_DF") {
        options.min_df = v;
    }
    options
}

/// What the default threshold does for bots of several sizes (see the module docs), on
/// `split` and `oos_split` (`val` to tune, `test` to report).
fn default_threshold_by_size(path: &Path, split: &str, oos_split: &str) {
    let data: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("read CLINC150")).expect("json");
    let train = clinc_split(&data, "train");
    let test = clinc_split(&data, split);
    let oos_test = clinc_split(&data, oos_split);
    let mut intents: Vec<&str> = train.iter().map(|(_, i)| i.as_str()).collect();
    intents.sort_unstable();
    intents.dedup();
    let threshold = TrainOptions::DEFAULT_THRESHOLD;
    println!("Default threshold {threshold} by bot size (CLINC150 {split} + {oos_split})");
    println!("  intents  top-1   @default  gap     oos recall  train s");
    for size in [10, 25, 50, 100, 150] {
        let chosen: std::collections::HashSet<&str> = intents.iter().take(size).copied().collect();
        let keep = |set: &Labelled| -> Labelled {
            set.iter()
                .filter(|(_, i)| chosen.contains(i.as_str()))
                .cloned()
                .collect()
        };
        let (train, test) = (keep(&train), keep(&test));
        let start = Instant::now();
        let classifier = IntentClassifier::train(&examples(&train), &options_from_env()).unwrap();
        let secs = start.elapsed().as_secs_f64();
        let (scored, oos) = confidences(&classifier, &test, &oos_test);
        let (top1, _) = rates(&scored, &oos, 0.0);
        let (at_default, recall) = rates(&scored, &oos, threshold);
        println!(
            "  {size:>7}  {top1:.4}  {at_default:.4}    {:.4}  {recall:.4}      {secs:.2}",
            top1 - at_default
        );
    }
}

fn snips_split(dir: &Path, split: &str) -> Labelled {
    let read =
        |file: &str| std::fs::read_to_string(dir.join(split).join(file)).expect("read SNIPS");
    let texts = read("seq.in");
    let labels = read("label");
    texts
        .lines()
        .zip(labels.lines())
        .map(|(t, l)| (t.to_owned(), l.to_owned()))
        .collect()
}

fn snips(dir: &Path) {
    let train = snips_split(dir, "train");
    let test = snips_split(dir, "test");
    let classifier = IntentClassifier::train(&examples(&train), &TrainOptions::default()).unwrap();
    let correct = test
        .iter()
        .filter(|(text, intent)| classifier.classify(text).ranking[0].intent == *intent)
        .count();
    println!(
        "SNIPS ({} train, {} test): accuracy {:.4}",
        train.len(),
        test.len(),
        correct as f64 / test.len() as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(clinc_path) = args.first() else {
        eprintln!("usage: nlu-eval PATH/clinc150/data_full.json [PATH/snips]");
        std::process::exit(2);
    };
    clinc(Path::new(clinc_path));
    if std::env::var_os("NLU_TUNE").is_some() {
        default_threshold_by_size(Path::new(clinc_path), "val", "oos_val");
    }
    default_threshold_by_size(Path::new(clinc_path), "test", "oos_test");
    if let Some(dir) = args.get(1) {
        snips(Path::new(dir));
    }
}
