//! Names for throwaway things.

use rand::Rng;

/// Twelve random lower-case letters, for names of throwaway directories and databases: valid
/// in a path and in an unquoted PostgreSQL identifier, and unlikely to meet another run's.
pub fn random_suffix() -> String {
    let mut rng = rand::thread_rng();
    (0..12)
        .map(|_| char::from(b'a' + rng.gen_range(0..26u8)))
        .collect()
}
