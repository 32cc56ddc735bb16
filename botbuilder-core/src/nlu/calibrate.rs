//! Calibrating confidences on held-out folds of the bot's own examples.
//!
//! A classifier's raw confidences depend on the bot: with 150 intents the softmax spreads
//! thinner than with 10, so one fixed threshold (the default 0.45) turned about 8 points of
//! top-1 accuracy into `none` on CLINC150 while fitting small bots fine. So at training the
//! examples are split into [`FOLDS`] stratified folds; a model trained on the others predicts
//! each fold, and the softmax temperature is chosen so that all but [`MISS_SHARE`] of the
//! held-out predictions that were *right* clear [`TARGET`] (a little above the default
//! threshold). Out-of-scope text, which no intent claims, keeps low scores at any temperature,
//! and its confidence is also scaled down by the share of unknown words. The smallest
//! temperature reaching the target is taken (a larger one would only lift out-of-scope
//! confidences too). Bots too small to hold out examples keep the default temperature.

use super::features::Featurizer;
use super::linear::LinearModel;
use super::{TrainOptions, TrainingExample};

/// Folds of the held-out estimate.
pub(crate) const FOLDS: usize = 3;
/// Share of right held-out predictions allowed under [`TARGET`].
pub(crate) const MISS_SHARE: f32 = 0.015;
/// Confidence the right held-out predictions should clear.
pub(crate) const TARGET: f32 = TrainOptions::DEFAULT_THRESHOLD + 0.05;
/// Fewest right held-out predictions to calibrate on.
const MIN_HELD_OUT: usize = 30;
/// Temperatures searched: never below the default (a bot that is confident enough keeps it).
const RANGE: (f32, f32) = (super::linear::DEFAULT_TEMPERATURE, 60.0);

/// A held-out prediction that was right: its class scores, its class, and its known-word
/// share.
struct HeldOut {
    scores: Vec<f32>,
    class: usize,
    share: f32,
}

/// The confidence of `h`'s class at temperature `t` (softmax with a background class at 0).
fn confidence(h: &HeldOut, t: f32) -> f32 {
    let max = h.scores.iter().copied().fold(0.0f32, f32::max) * t;
    let mut sum = (-max).exp();
    for s in &h.scores {
        sum += (s * t - max).exp();
    }
    (h.scores[h.class] * t - max).exp() / sum * h.share
}

/// The `MISS_SHARE` quantile of the held-out confidences at temperature `t`.
fn low_quantile(held: &[HeldOut], t: f32) -> f32 {
    let mut confidences: Vec<f32> = held.iter().map(|h| confidence(h, t)).collect();
    confidences.sort_by(f32::total_cmp);
    #[allow(
        clippy::cast_precision_loss,
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss
    )]
    let at = ((confidences.len() as f32 - 1.0) * MISS_SHARE).round() as usize;
    confidences[at]
}

/// The calibrated temperature for `examples` (labels by index into `labels`), or `None` when
/// the bot is too small to calibrate.
pub(crate) fn temperature(
    examples: &[TrainingExample],
    ys: &[usize],
    classes: usize,
    options: &TrainOptions,
) -> Option<f32> {
    if classes < 2 {
        return None;
    }
    // Stratified: the i-th example of each intent goes to fold i mod FOLDS.
    let mut seen = vec![0usize; classes];
    let fold_of: Vec<usize> = ys
        .iter()
        .map(|&y| {
            seen[y] += 1;
            (seen[y] - 1) % FOLDS
        })
        .collect();
    let mut held = Vec::new();
    for fold in 0..FOLDS {
        let train: Vec<usize> = (0..examples.len())
            .filter(|&i| fold_of[i] != fold)
            .collect();
        let test: Vec<usize> = (0..examples.len())
            .filter(|&i| fold_of[i] == fold)
            .collect();
        if train.is_empty() || test.is_empty() {
            continue;
        }
        let featurizer = Featurizer::fit(
            train.iter().map(|&i| examples[i].text.as_str()),
            options.min_df,
        );
        let xs: Vec<_> = train
            .iter()
            .map(|&i| featurizer.transform(&examples[i].text))
            .collect();
        let fold_ys: Vec<usize> = train.iter().map(|&i| ys[i]).collect();
        let model = LinearModel::train(&xs, &fold_ys, featurizer.len(), classes, options.params);
        let mut scores = vec![0.0f32; classes];
        for &i in &test {
            let x = featurizer.transform(&examples[i].text);
            if x.indices.is_empty() {
                continue;
            }
            model.scores_into(&x, &mut scores);
            let best = (0..classes)
                .max_by(|a, b| scores[*a].total_cmp(&scores[*b]))
                .unwrap_or_default();
            if best == ys[i] {
                held.push(HeldOut {
                    scores: scores.clone(),
                    class: best,
                    share: featurizer.known_word_share(&examples[i].text),
                });
            }
        }
    }
    if held.len() < MIN_HELD_OUT {
        return None;
    }
    let (mut low, mut high) = RANGE;
    if low_quantile(&held, low) >= TARGET {
        return Some(low);
    }
    if low_quantile(&held, high) < TARGET {
        return Some(high);
    }
    for _ in 0..24 {
        let mid = f32::midpoint(low, high);
        if low_quantile(&held, mid) >= TARGET {
            high = mid;
        } else {
            low = mid;
        }
    }
    Some(high)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nlu::IntentClassifier;

    /// A bot of `intents` intents, each with `per` examples built from its own words and
    /// words every intent shares.
    fn synthetic(intents: usize, per: usize) -> Vec<TrainingExample> {
        let shared = [
            "please",
            "can you",
            "i need to",
            "help me",
            "quickly",
            "now",
        ];
        let mut out = Vec::new();
        for i in 0..intents {
            let own = [format!("alpha{i}"), format!("beta{i}"), format!("gamma{i}")];
            for j in 0..per {
                let text = format!(
                    "{} {} {} {}",
                    shared[j % shared.len()],
                    own[j % 3],
                    own[(j + 1) % 3],
                    shared[(j * 5 + i) % shared.len()]
                );
                out.push(TrainingExample::new(text, format!("intent{i}")));
            }
        }
        out
    }

    #[test]
    fn small_bots_keep_the_default_and_larger_ones_are_fitted() {
        let options = TrainOptions::default();
        let tiny = synthetic(3, 3);
        let ys: Vec<usize> = tiny
            .iter()
            .map(|e| e.intent[6..].parse().unwrap())
            .collect();
        assert_eq!(
            temperature(&tiny, &ys, 3, &options),
            None,
            "too few to hold out"
        );

        // Unseen texts of each intent, mostly made of words all intents share, clear the
        // default threshold once calibrated, where the uncalibrated model hesitates.
        let bot = synthetic(40, 12);
        let cleared = |calibrate: bool| {
            let options = TrainOptions {
                calibrate,
                ..TrainOptions::default()
            };
            let c = IntentClassifier::train(&bot, &options).unwrap();
            assert_eq!(c.classify("completely unrelated words here").intent, None);
            (0..40)
                .filter(|i| {
                    let p = c.classify(&format!("help me please quickly now alpha{i}"));
                    p.intent.as_deref() == Some(format!("intent{i}").as_str())
                })
                .count()
        };
        let (plain, calibrated) = (cleared(false), cleared(true));
        assert!(
            calibrated >= 36 && calibrated > plain,
            "{calibrated} vs {plain} of 40"
        );
    }
}
