//! Reciprocal rank fusion: merges ranked lists (keyword and vector results) by rank alone,
//! so scores on different scales need no calibration.

use std::collections::HashMap;
use std::hash::Hash;

/// The customary RRF constant: damps the weight of the very first ranks.
pub const RRF_K: f32 = 60.0;

/// Fuses ranked lists (best first) into one, best first: each item scores the sum over the
/// lists of `1 / (k + rank)`, rank counted from 1. Ties keep the order of first appearance.
pub fn reciprocal_rank_fusion<T: Copy + Eq + Hash>(lists: &[Vec<T>], k: f32) -> Vec<(T, f32)> {
    let weighted: Vec<(f32, &[T])> = lists.iter().map(|l| (1.0, l.as_slice())).collect();
    weighted_reciprocal_rank_fusion(&weighted, k)
}

/// [`reciprocal_rank_fusion`] with a weight per list (`weight / (k + rank)`), so a weaker
/// ranker can contribute without outvoting a stronger one.
pub fn weighted_reciprocal_rank_fusion<T: Copy + Eq + Hash>(
    lists: &[(f32, &[T])],
    k: f32,
) -> Vec<(T, f32)> {
    let mut scores: HashMap<T, (f32, usize)> = HashMap::new();
    let mut seen = 0usize;
    for (weight, list) in lists {
        for (rank, item) in list.iter().enumerate() {
            #[allow(clippy::cast_precision_loss)] // ranks are small
            let gain = weight / (k + rank as f32 + 1.0);
            let entry = scores.entry(*item).or_insert_with(|| {
                seen += 1;
                (0.0, seen)
            });
            entry.0 += gain;
        }
    }
    let mut fused: Vec<(T, f32, usize)> = scores
        .into_iter()
        .map(|(item, (score, first))| (item, score, first))
        .collect();
    fused.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.2.cmp(&b.2)));
    fused
        .into_iter()
        .map(|(item, score, _)| (item, score))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_in_both_lists_rise_to_the_top() {
        let keyword = vec!['a', 'b', 'c'];
        let vector = vec!['c', 'd', 'a'];
        let fused = reciprocal_rank_fusion(&[keyword, vector], RRF_K);
        let order: Vec<char> = fused.iter().map(|(c, _)| *c).collect();
        assert_eq!(order, vec!['a', 'c', 'b', 'd']);
        assert!((fused[0].1 - (1.0 / 61.0 + 1.0 / 63.0)).abs() < 1e-6);
        assert!(reciprocal_rank_fusion::<char>(&[], RRF_K).is_empty());
        let single = reciprocal_rank_fusion(&[vec![1, 2, 3]], RRF_K);
        assert_eq!(
            single.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![1, 2, 3]
        );
    }
}
