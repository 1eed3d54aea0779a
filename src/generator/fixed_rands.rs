//! Jepsen's `with-fixed-rands`: the random streams `jepsen.generator.test` runs every
//! generator test under, so that our tests can assert the exact schedules Jepsen's own
//! generator tests assert (tie-breaks in `any`, `each-thread`, `reserve` draw from them).
//!
//! Jepsen rebinds `rand` to the doubles and `rand-int` to the longs of two
//! `java.util.Random`s seeded alike, each stream's first value skipped. This is
//! `java.util.Random`'s documented 48-bit linear congruential generator, written out
//! because no crate reproduces it bit for bit. Real runs use the context's ChaCha stream;
//! this exists only to replay Jepsen's reference schedules.

/// `java.util.Random`.
#[derive(Clone, Debug)]
struct JavaRandom {
    seed: i64,
}

const MULTIPLIER: i64 = 0x5DEECE66D;
const MASK: i64 = (1 << 48) - 1;

impl JavaRandom {
    fn new(seed: i64) -> JavaRandom {
        JavaRandom {
            seed: (seed ^ MULTIPLIER) & MASK,
        }
    }

    fn next(&mut self, bits: u32) -> i32 {
        self.seed = (self.seed.wrapping_mul(MULTIPLIER).wrapping_add(0xB)) & MASK;
        (self.seed >> (48 - bits)) as i32
    }

    fn next_long(&mut self) -> i64 {
        ((self.next(32) as i64) << 32).wrapping_add(self.next(32) as i64)
    }

    fn next_double(&mut self) -> f64 {
        let hi = (self.next(26) as i64) << 27;
        let lo = self.next(27) as i64;
        (hi + lo) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// The two fixed streams of `jepsen.generator.test/with-fixed-rands`.
#[derive(Clone, Debug)]
pub struct FixedRands {
    longs: JavaRandom,
    doubles: JavaRandom,
}

/// The seed `jepsen.generator.test` uses (`rand-seed`).
pub const JEPSEN_TEST_SEED: i64 = 45100;

impl FixedRands {
    pub fn new(seed: i64) -> FixedRands {
        let mut r = FixedRands {
            longs: JavaRandom::new(seed),
            doubles: JavaRandom::new(seed),
        };
        // `(first (swap! values next))` skips each stream's first value.
        r.longs.next_long();
        r.doubles.next_double();
        r
    }

    /// Clojure's `rand-int` as rebound: `(mod next-long n)`, and 0 without a draw for 0.
    pub fn rand_int(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.longs.next_long().rem_euclid(n as i64) as u64
        }
    }

    /// Clojure's `(rand)` as rebound: the next double in `[0, 1)`.
    pub fn rand_double(&mut self) -> f64 {
        self.doubles.next_double()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn java_random_matches_the_jdk() {
        // `new java.util.Random(42)`: nextInt() = -1170105035, nextLong() = ...;
        // values from the JDK's documented algorithm (checked against OpenJDK 17).
        let mut r = JavaRandom::new(42);
        assert_eq!(r.next(32), -1170105035);
        let mut r = JavaRandom::new(0);
        assert_eq!(r.next_long(), -4962768465676381896);
        let mut r = JavaRandom::new(0);
        assert_eq!(r.next_double(), 0.730967787376657);
    }
}
