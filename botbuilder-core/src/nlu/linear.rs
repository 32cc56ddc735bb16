//! A multiclass linear SVM over sparse features (Crammer–Singer hinge loss), trained with SGD
//! and weight averaging.
//!
//! Per example, the true class is compared with the best-scoring wrong class; when the margin
//! is under 1 both rows move, so an update touches two classes. Weights are stored
//! feature-major (`weights[f * classes + c]`), so scoring one text reads one contiguous row per
//! active feature. Confidences are the softmax of the scores times a temperature.
//!
//! Measured on CLINC150 against a multinomial logistic regression trained the same way, the
//! SVM was more accurate in scope (0.929 vs 0.927 test) and separated out-of-scope queries far
//! better at equal in-scope accuracy, and trained faster (two classes per update instead of
//! all with a non-negligible gradient).

use super::features::SparseVec;

/// Softmax temperature of an uncalibrated model.
pub(crate) const DEFAULT_TEMPERATURE: f32 = 5.0;

/// Required gap between the true class's score and the best wrong class's.
const MARGIN: f32 = 1.0;

/// Training hyper-parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainParams {
    /// Passes over the training set.
    pub epochs: u32,
    /// Initial learning rate.
    pub learning_rate: f32,
    /// L2 penalty.
    pub l2: f32,
    /// Seed of the example shuffling (training is deterministic for a seed).
    pub seed: u64,
    /// Scale applied to scores before the softmax that yields confidences.
    pub temperature: f32,
}

impl Default for TrainParams {
    fn default() -> Self {
        Self {
            epochs: 20,
            learning_rate: 0.1,
            l2: 1e-6,
            seed: 0x5eed,
            temperature: DEFAULT_TEMPERATURE,
        }
    }
}

/// The trained weights.
#[derive(Debug, Clone, Default)]
pub(crate) struct LinearModel {
    pub(super) classes: usize,
    pub(super) temperature: f32,
    /// Feature-major: `weights[feature * classes + class]`.
    pub(super) weights: Vec<f32>,
    pub(super) bias: Vec<f32>,
}

/// A small deterministic generator for shuffling (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

impl LinearModel {
    /// Trains on `(x, class)` pairs.
    pub(crate) fn train(
        xs: &[SparseVec],
        ys: &[usize],
        features: usize,
        classes: usize,
        params: TrainParams,
    ) -> Self {
        let mut model = Self {
            classes,
            temperature: params.temperature,
            weights: vec![0.0; features * classes],
            bias: vec![0.0; classes],
        };
        let mut order: Vec<usize> = (0..xs.len()).collect();
        let mut rng = Rng(params.seed.max(1));
        let mut scores = vec![0.0f32; classes];
        let mut avg_weights = vec![0.0f32; features * classes];
        let mut avg_bias = vec![0.0f32; classes];
        let mut averaged = 0u32;
        for epoch in 0..params.epochs {
            rng.shuffle(&mut order);
            let lr = params.learning_rate / (1.0 + epoch as f32 * 0.5);
            let decay = 1.0 - lr * params.l2;
            for &i in &order {
                model.scores_into(&xs[i], &mut scores);
                let y = ys[i];
                let (rival, rival_score) = scores.iter().enumerate().filter(|(c, _)| *c != y).fold(
                    (y, f32::NEG_INFINITY),
                    |best, (c, s)| {
                        if *s > best.1 { (c, *s) } else { best }
                    },
                );
                if classes == 1 {
                    // One intent: its rival is the background class (score 0), so the model
                    // still learns what its examples look like.
                    if scores[y] >= MARGIN {
                        continue;
                    }
                    for (&f, &v) in xs[i].indices.iter().zip(&xs[i].values) {
                        let w = &mut model.weights[f as usize];
                        *w = *w * decay + lr * v;
                    }
                    model.bias[y] += lr;
                    continue;
                }
                if rival == y || scores[y] - rival_score >= MARGIN {
                    continue;
                }
                let active = [(y, -lr), (rival, lr)];
                for (&f, &v) in xs[i].indices.iter().zip(&xs[i].values) {
                    let row = &mut model.weights[f as usize * classes..][..classes];
                    for &(c, step) in &active {
                        row[c] = row[c] * decay - step * v;
                    }
                }
                for &(c, step) in &active {
                    model.bias[c] -= step;
                }
            }
            // Average the weights of the second half of training (Polyak averaging): it
            // smooths SGD's noise and generalizes better than the last iterate.
            if epoch >= params.epochs / 2 {
                averaged += 1;
                for (a, w) in avg_weights.iter_mut().zip(&model.weights) {
                    *a += w;
                }
                for (a, b) in avg_bias.iter_mut().zip(&model.bias) {
                    *a += b;
                }
            }
        }
        if averaged > 0 {
            let n = averaged as f32;
            model.weights = avg_weights.into_iter().map(|a| a / n).collect();
            model.bias = avg_bias.into_iter().map(|a| a / n).collect();
        }
        model
    }

    /// The temperature scaling scores before the softmax.
    pub(crate) fn set_temperature(&mut self, temperature: f32) {
        self.temperature = temperature;
    }

    /// Class probabilities of `x` into `out` (length = classes).
    ///
    /// A background class with score 0 takes part in the softmax and is then dropped, so a
    /// text that no intent claims (every score below 0) gets low confidences even when the
    /// bot has only two or three intents.
    pub(crate) fn probabilities_into(&self, x: &SparseVec, out: &mut [f32]) {
        self.scores_into(x, out);
        let max = out.iter().copied().fold(0.0f32, f32::max) * self.temperature;
        let background = (-max).exp();
        let mut sum = background;
        for s in out.iter_mut() {
            *s = (*s * self.temperature - max).exp();
            sum += *s;
        }
        out.iter_mut().for_each(|s| *s /= sum);
    }

    /// Raw class scores of `x` into `out` (length = classes).
    pub(crate) fn scores_into(&self, x: &SparseVec, out: &mut [f32]) {
        out.copy_from_slice(&self.bias);
        for (&f, &v) in x.indices.iter().zip(&x.values) {
            let row = &self.weights[f as usize * self.classes..][..self.classes];
            for (o, w) in out.iter_mut().zip(row) {
                *o += v * w;
            }
        }
    }
}
