//! Text normalization and tokenization shared by training and classification.

/// Lower-cases and splits into word tokens (runs of alphanumeric characters; apostrophes
/// inside words are dropped, so "what's" and "whats" agree).
pub(crate) fn tokens(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for c in text.chars() {
        if c.is_alphanumeric() {
            current.extend(c.to_lowercase());
        } else if (c == '\'' || c == '’') && !current.is_empty() {
            continue;
        } else if !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// 64-bit FNV-1a over several byte slices, as if concatenated.
pub(crate) fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in *part {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_lowercase_alphanumeric_runs() {
        assert_eq!(
            tokens("What's the ETA, Zoë?"),
            vec!["whats", "the", "eta", "zoë"]
        );
        assert_eq!(tokens("  "), Vec::<String>::new());
        assert_eq!(tokens("order #42-b"), vec!["order", "42", "b"]);
    }
}
