//! [`Backoff`]: the delays of a reconnect or retry loop.
//!
//! The base delay starts at `min` and doubles after each failure up to `max`;
//! each delay handed out is drawn uniformly from `[base·(1−jitter), base]`,
//! so it never exceeds `max` and peers that failed at the same moment spread
//! out. [`Backoff::reset`] after a success starts again at `min`.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Duration;

/// Default jitter: delays lie in the upper half of the base delay.
pub const DEFAULT_JITTER: f64 = 0.5;

/// Exponential backoff with jitter between a minimum and a maximum delay.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    jitter: f64,
    base: Duration,
    rng: StdRng,
}

impl Backoff {
    /// `min` doubling to `max`, [`DEFAULT_JITTER`], seeded from the OS.
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff::from_rng(min, max, StdRng::from_entropy())
    }

    /// Like [`Backoff::new`] but deterministic: the same seed gives the same delays.
    pub fn with_seed(min: Duration, max: Duration, seed: u64) -> Backoff {
        Backoff::from_rng(min, max, StdRng::seed_from_u64(seed))
    }

    fn from_rng(min: Duration, max: Duration, rng: StdRng) -> Backoff {
        let max = max.max(min);
        Backoff {
            min,
            max,
            jitter: DEFAULT_JITTER,
            base: min,
            rng,
        }
    }

    /// Sets the jitter fraction (clamped to 0..=1; 0 gives plain doubling).
    pub fn jitter(mut self, jitter: f64) -> Backoff {
        self.jitter = if jitter.is_nan() {
            0.0
        } else {
            jitter.clamp(0.0, 1.0)
        };
        self
    }

    /// The delay to wait now; the next one is (about) twice as long, up to `max`.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.base;
        self.base = base.saturating_mul(2).min(self.max);
        if self.jitter == 0.0 || base.is_zero() {
            return base;
        }
        let frac = self.jitter * self.rng.gen::<f64>();
        // Never panics, even for a base near Duration::MAX.
        let cut = Duration::try_from_secs_f64(base.as_secs_f64() * frac).unwrap_or_default();
        base.saturating_sub(cut)
    }

    /// After a success: the next delay is `min` again.
    pub fn reset(&mut self) {
        self.base = self.min;
    }

    /// The base (un-jittered) delay the next [`Backoff::next_delay`] draws from.
    pub fn base(&self) -> Duration {
        self.base
    }

    /// The minimum base delay.
    pub fn min(&self) -> Duration {
        self.min
    }

    /// The maximum delay.
    pub fn max(&self) -> Duration {
        self.max
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn doubles_from_min_to_max_without_jitter() {
        let mut b = Backoff::with_seed(S, 8 * S, 1).jitter(0.0);
        let d: Vec<u64> = (0..6).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(d, [1, 2, 4, 8, 8, 8]);
    }

    #[test]
    fn reset_starts_again_at_min() {
        let mut b = Backoff::with_seed(S, 8 * S, 1).jitter(0.0);
        b.next_delay();
        b.next_delay();
        assert_eq!(b.base(), 4 * S);
        b.reset();
        assert_eq!(b.base(), S);
        assert_eq!(b.next_delay(), S);
    }

    #[test]
    fn jittered_delays_stay_within_bounds_and_vary() {
        let mut b = Backoff::with_seed(S, 8 * S, 7);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let base = b.base();
            let d = b.next_delay();
            assert!(
                d <= base && d >= base / 2,
                "{d:?} outside [{:?}, {base:?}]",
                base / 2
            );
            assert!(d <= 8 * S);
            seen.insert(d);
            if base == 8 * S {
                b.reset();
            }
        }
        assert!(seen.len() > 100, "jitter does not vary: {}", seen.len());
    }

    #[test]
    fn same_seed_same_delays_other_seed_other_delays() {
        let run = |seed| {
            let mut b = Backoff::with_seed(S, 30 * S, seed);
            (0..8).map(|_| b.next_delay()).collect::<Vec<_>>()
        };
        assert_eq!(run(42), run(42));
        assert_ne!(run(42), run(43));
    }

    #[test]
    fn max_below_min_is_min_and_zero_min_stays_zero() {
        let mut b = Backoff::with_seed(4 * S, S, 1);
        assert_eq!(b.max(), 4 * S);
        assert!(b.next_delay() <= 4 * S);
        let mut z = Backoff::with_seed(Duration::ZERO, S, 1);
        assert_eq!(z.next_delay(), Duration::ZERO);
        assert_eq!(z.next_delay(), Duration::ZERO);
    }

    #[test]
    fn rejects_out_of_range_jitter_by_clamping() {
        let mut b = Backoff::with_seed(S, S, 3).jitter(7.0);
        for _ in 0..50 {
            assert!(b.next_delay() <= S);
        }
        let mut n = Backoff::with_seed(S, S, 3).jitter(f64::NAN);
        assert_eq!(n.next_delay(), S);
        let mut neg = Backoff::with_seed(S, S, 3).jitter(-1.0);
        assert_eq!(neg.next_delay(), S);
    }

    #[test]
    fn huge_max_does_not_overflow() {
        let mut b = Backoff::with_seed(S, Duration::MAX, 1);
        for _ in 0..200 {
            assert!(b.next_delay() <= Duration::MAX);
        }
        assert_eq!(b.base(), Duration::MAX);
    }
}
