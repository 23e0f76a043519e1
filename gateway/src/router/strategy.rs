//! Picking one deployment among the healthy ones of a group, by the configured strategy.

use super::settings::Strategy;
use super::state::DeploymentLoad;

/// What a strategy reads about one deployment.
#[derive(Debug, Clone, Copy, Default)]
pub struct Candidate {
    /// `weight` from the config.
    pub weight: Option<f64>,
    /// `rpm` from the config.
    pub rpm: Option<u64>,
    /// `tpm` from the config.
    pub tpm: Option<u64>,
    /// Its current load.
    pub load: DeploymentLoad,
}

/// A random 64-bit value from this thread's xorshift64* generator, seeded once per thread from
/// the operating system: spreading load needs no secrecy, and a system call per request costs.
pub fn thread_random() -> u64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            let mut bytes = [0u8; 8];
            let _ = getrandom::fill(&mut bytes);
            // xorshift never leaves zero; any other seed will do.
            u64::from_le_bytes(bytes) | 1
        });
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    })
}

/// A uniformly random number in [0, 1) from a 64-bit random value.
fn unit(random: u64) -> f64 {
    (random >> 11) as f64 / (1u64 << 53) as f64
}

/// The index of the candidate to try (`candidates` is not empty). `random` yields uniformly
/// random 64-bit values.
pub fn pick(
    strategy: Strategy,
    latency_buffer: f64,
    candidates: &[Candidate],
    random: &mut dyn FnMut() -> u64,
) -> usize {
    debug_assert!(!candidates.is_empty());
    if candidates.len() == 1 {
        return 0;
    }
    match strategy {
        Strategy::SimpleShuffle => weighted(&shuffle_weights(candidates), random),
        Strategy::LeastBusy => {
            let least = candidates
                .iter()
                .map(|c| c.load.in_flight)
                .min()
                .unwrap_or(0);
            uniform_among(candidates, |c| c.load.in_flight == least, random)
        }
        Strategy::UsageBased => {
            let least = candidates
                .iter()
                .map(|c| c.load.tokens_this_minute)
                .min()
                .unwrap_or(0);
            uniform_among(candidates, |c| c.load.tokens_this_minute == least, random)
        }
        Strategy::LatencyBased => {
            // Unmeasured deployments are tried first, so every one gets measured.
            if candidates.iter().any(|c| c.load.latency.is_none()) {
                return uniform_among(candidates, |c| c.load.latency.is_none(), random);
            }
            let lowest = candidates
                .iter()
                .filter_map(|c| c.load.latency)
                .min()
                .unwrap_or_default();
            let bound = lowest.mul_f64(1.0 + latency_buffer.max(0.0));
            uniform_among(
                candidates,
                |c| c.load.latency.is_some_and(|l| l <= bound),
                random,
            )
        }
    }
}

/// simple-shuffle's weights: `weight` where any is set (1 where not), else `rpm` when every
/// candidate has one, else `tpm` likewise, else equal.
fn shuffle_weights(candidates: &[Candidate]) -> Vec<f64> {
    if candidates.iter().any(|c| c.weight.is_some()) {
        return candidates
            .iter()
            .map(|c| c.weight.unwrap_or(1.0).max(0.0))
            .collect();
    }
    if let Some(rpm) = candidates.iter().map(|c| c.rpm).collect::<Option<Vec<_>>>() {
        return rpm.into_iter().map(|r| r as f64).collect();
    }
    if let Some(tpm) = candidates.iter().map(|c| c.tpm).collect::<Option<Vec<_>>>() {
        return tpm.into_iter().map(|t| t as f64).collect();
    }
    vec![1.0; candidates.len()]
}

fn weighted(weights: &[f64], random: &mut dyn FnMut() -> u64) -> usize {
    let total: f64 = weights.iter().sum();
    if total <= 0.0 || !total.is_finite() {
        return (random() % weights.len() as u64) as usize;
    }
    let mut point = unit(random()) * total;
    for (i, w) in weights.iter().enumerate() {
        if point < *w {
            return i;
        }
        point -= w;
    }
    weights.len() - 1
}

fn uniform_among(
    candidates: &[Candidate],
    chosen: impl Fn(&Candidate) -> bool,
    random: &mut dyn FnMut() -> u64,
) -> usize {
    let indices: Vec<usize> = (0..candidates.len())
        .filter(|i| chosen(&candidates[*i]))
        .collect();
    indices[(random() % indices.len() as u64) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn one_candidate_is_picked_without_a_draw_and_the_thread_generator_varies() {
        let mut draws = 0;
        let mut random = || {
            draws += 1;
            0
        };
        for strategy in [
            Strategy::SimpleShuffle,
            Strategy::LeastBusy,
            Strategy::UsageBased,
            Strategy::LatencyBased,
        ] {
            assert_eq!(pick(strategy, 0.1, &[Candidate::default()], &mut random), 0);
        }
        assert_eq!(draws, 0);
        let values: std::collections::HashSet<u64> = (0..64).map(|_| thread_random()).collect();
        assert_eq!(values.len(), 64, "64 draws repeated a value");
    }

    /// A seeded xorshift: the same decisions on every run.
    fn rng(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    fn shares(strategy: Strategy, candidates: &[Candidate], n: usize) -> Vec<f64> {
        shares_with_buffer(strategy, 0.0, candidates, n)
    }

    fn shares_with_buffer(
        strategy: Strategy,
        buffer: f64,
        candidates: &[Candidate],
        n: usize,
    ) -> Vec<f64> {
        let mut random = rng(0x9e37_79b9_7f4a_7c15);
        let mut counts = vec![0usize; candidates.len()];
        for _ in 0..n {
            counts[pick(strategy, buffer, candidates, &mut random)] += 1;
        }
        counts.iter().map(|c| *c as f64 / n as f64).collect()
    }

    /// 10,000 decisions land within 2 percentage points of the weights.
    #[test]
    fn simple_shuffle_follows_weight_then_rpm_then_tpm() {
        let tolerance = 0.02;
        let close = |got: &[f64], want: &[f64]| {
            got.iter()
                .zip(want)
                .all(|(g, w)| (g - w).abs() <= tolerance)
        };
        let weighted = [
            Candidate {
                weight: Some(1.0),
                ..Default::default()
            },
            Candidate {
                weight: Some(3.0),
                ..Default::default()
            },
            Candidate {
                weight: Some(6.0),
                ..Default::default()
            },
        ];
        let got = shares(Strategy::SimpleShuffle, &weighted, 10_000);
        assert!(close(&got, &[0.1, 0.3, 0.6]), "{got:?}");

        let by_rpm = [
            Candidate {
                rpm: Some(100),
                ..Default::default()
            },
            Candidate {
                rpm: Some(300),
                ..Default::default()
            },
        ];
        let got = shares(Strategy::SimpleShuffle, &by_rpm, 10_000);
        assert!(close(&got, &[0.25, 0.75]), "{got:?}");

        let by_tpm = [
            Candidate {
                tpm: Some(1_000),
                ..Default::default()
            },
            Candidate {
                tpm: Some(1_000),
                ..Default::default()
            },
            Candidate {
                tpm: Some(2_000),
                ..Default::default()
            },
        ];
        let got = shares(Strategy::SimpleShuffle, &by_tpm, 10_000);
        assert!(close(&got, &[0.25, 0.25, 0.5]), "{got:?}");

        let plain = [Candidate::default(); 4];
        let got = shares(Strategy::SimpleShuffle, &plain, 10_000);
        assert!(close(&got, &[0.25; 4]), "{got:?}");
    }

    #[test]
    fn least_busy_and_usage_pick_the_lowest() {
        let mut random = rng(7);
        let loads = [3, 1, 2].map(|n| Candidate {
            load: DeploymentLoad {
                in_flight: n,
                tokens_this_minute: u64::from(10 - n),
                ..Default::default()
            },
            ..Default::default()
        });
        for _ in 0..100 {
            assert_eq!(pick(Strategy::LeastBusy, 0.0, &loads, &mut random), 1);
            assert_eq!(pick(Strategy::UsageBased, 0.0, &loads, &mut random), 0);
        }
    }

    /// Latency-based routing with the router's moving average: once one of two deployments
    /// turns slow (50 ms → 500 ms), within 5 of its requests it gets no more traffic, while
    /// near-equal deployments (within the buffer) share the load.
    #[test]
    fn latency_based_routing_moves_away_from_a_slow_deployment() {
        use crate::router::state::{MemoryState, RouterState};
        let state = MemoryState::default();
        let ids = ["fast", "slow"];
        let mut random = rng(11);
        let mut sent_to_slow_after_turn = 0;
        for i in 0..200 {
            let candidates: Vec<Candidate> = ids
                .iter()
                .map(|id| Candidate {
                    load: state.load(id, Duration::ZERO),
                    ..Default::default()
                })
                .collect();
            let chosen = pick(Strategy::LatencyBased, 0.2, &candidates, &mut random);
            let slow_now = i >= 20;
            let latency = if chosen == 1 && slow_now { 500 } else { 50 };
            if chosen == 1 && slow_now {
                sent_to_slow_after_turn += 1;
            }
            state.record_latency(ids[chosen], Duration::from_millis(latency), Duration::ZERO);
        }
        assert!(
            (1..=5).contains(&sent_to_slow_after_turn),
            "{sent_to_slow_after_turn} requests reached the slow deployment after it turned slow"
        );

        let near = [45, 50, 52].map(|ms| Candidate {
            load: DeploymentLoad {
                latency: Some(Duration::from_millis(ms)),
                ..Default::default()
            },
            ..Default::default()
        });
        let got = shares_with_buffer(Strategy::LatencyBased, 0.2, &near, 3_000);
        assert!(
            got.iter().all(|s| *s > 0.25),
            "within the 20% buffer all share: {got:?}"
        );
        let got = {
            let mut random = rng(3);
            (0..1_000)
                .map(|_| pick(Strategy::LatencyBased, 0.0, &near, &mut random))
                .filter(|i| *i == 0)
                .count()
        };
        assert_eq!(got, 1_000, "without a buffer only the fastest is picked");
    }
}
