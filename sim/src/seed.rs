//! One seeded stream per component.

use sha2::{Digest, Sha256};

/// Derives an independent seed for one component from the run's seed, so
/// components draw from separate streams and adding one does not shift the
/// others.
pub fn derive_seed(seed: u64, component: &str) -> u64 {
    let mut hasher = Sha256::new();
    hasher.update(seed.to_le_bytes());
    hasher.update(component.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 8];
    bytes.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(bytes)
}
