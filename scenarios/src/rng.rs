//! Seed splitting: one root seed per run, one independent stream per
//! component, so adding a component never shifts another's draws.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// FNV-1a of a label.
fn fnv1a(label: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in label.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// SplitMix64 finaliser.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The derived seed of component `label` under root `seed`.
pub fn derive(seed: u64, label: &str) -> u64 {
    mix(seed ^ mix(fnv1a(label)))
}

/// A reproducible random stream for component `label`.
pub fn stream(seed: u64, label: &str) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(derive(seed, label))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: u64 = stream(7, "mobility").gen();
        assert_eq!(a, stream(7, "mobility").gen::<u64>());
        assert_ne!(a, stream(7, "tasks").gen::<u64>());
        assert_ne!(a, stream(8, "mobility").gen::<u64>());
    }
}
