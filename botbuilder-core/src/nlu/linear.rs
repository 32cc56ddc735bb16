//! A multinomial logistic regression over sparse features, trained with SGD.
//!
//! Weights are stored feature-major (`weights[f * classes + c]`), so scoring one text touches
//! one contiguous row per active feature. Gradients smaller than [`SKIP_GRADIENT`] are not
//! applied, which after the first epoch leaves only a handful of classes to update per example.

use super::features::SparseVec;

/// Per-class gradients below this are skipped (they change nothing measurable).
const SKIP_GRADIENT: f32 = 1e-4;

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
}

impl Default for TrainParams {
    fn default() -> Self {
        Self {
            epochs: 10,
            learning_rate: 0.5,
            l2: 1e-6,
            seed: 0x5eed,
        }
    }
}

/// The trained weights.
#[derive(Debug, Clone, Default)]
pub(crate) struct LinearModel {
    classes: usize,
    weights: Vec<f32>,
    bias: Vec<f32>,
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

/// Turns scores into probabilities in place.
pub(crate) fn softmax(scores: &mut [f32]) {
    let max = scores.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for s in scores.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    if sum > 0.0 {
        scores.iter_mut().for_each(|s| *s /= sum);
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
            weights: vec![0.0; features * classes],
            bias: vec![0.0; classes],
        };
        let mut order: Vec<usize> = (0..xs.len()).collect();
        let mut rng = Rng(params.seed.max(1));
        let mut grad = vec![0.0f32; classes];
        for epoch in 0..params.epochs {
            rng.shuffle(&mut order);
            let lr = params.learning_rate / (1.0 + epoch as f32 * 0.5);
            let decay = 1.0 - lr * params.l2;
            for &i in &order {
                model.scores_into(&xs[i], &mut grad);
                softmax(&mut grad);
                grad[ys[i]] -= 1.0;
                for (&f, &v) in xs[i].indices.iter().zip(&xs[i].values) {
                    let row = &mut model.weights[f as usize * classes..][..classes];
                    for (w, g) in row.iter_mut().zip(&grad) {
                        if g.abs() > SKIP_GRADIENT {
                            *w = *w * decay - lr * g * v;
                        }
                    }
                }
                for (b, g) in model.bias.iter_mut().zip(&grad) {
                    *b -= lr * g;
                }
            }
        }
        model
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
