//! Tighter intermediate bounds at the root, by LP (MIPVerify's `lp` tightening), with a budget.
//!
//! In a deep network the back-substituted bounds of later layers are loose, so the big-M
//! constants are loose, so every LP of the branch and bound is loose and the tree explodes. The
//! LP relaxation of the layers before a neuron bounds it much better: for each unstable neuron
//! of layer `k`, maximise and minimise its pre-activation over the triangle relaxation of layers
//! `0..k` (built from the bounds tightened so far), layer by layer, then re-propagate the later
//! layers by back-substitution over the tighter bounds.
//!
//! Each LP is strengthened by the ideal-formulation cuts of the earlier layers' ReLUs
//! ([`super::cuts`]), separated at its own optimum in a few rounds. The triangle relaxation
//! bounds a later neuron hardly better than back-substitution does (about 1 % on
//! 784-256-256-10), while the cuts relax each ReLU over the box of its *inputs*, which on the
//! first layer is the convex hull of the neuron: with them, the same LPs move bounds by 20–30 %
//! and turn many unstable neurons stable. The cuts are kept in a pool across the layer's LPs
//! (`cuts::Pool`: most bind for many neurons) and a cut that has not bound at the last few
//! optima is dropped, since dense rows slow every solve.
//!
//! After a cut round the LP is re-solved by the dual simplex (the basis stays dual feasible,
//! the new rows make it primal infeasible), after an objective change by the primal simplex:
//! on 784-256-256-10 this made 3× as many LPs fit in the same time. The neurons of a layer are
//! shared among worker threads, each with its own LP and pool, nearly stable ones first.
//!
//! Soundness: every new bound is derived from the LP's duals by [`super::safe::upper_bound`]
//! (weak duality with outward rounding), never from the solver's reported objective, and only
//! ever intersected with the old one. Stopping at any time (budget, deadline) leaves valid
//! bounds.

use std::time::{Duration, Instant};

use super::cuts::Pool;
use super::encode::Encoding;
use super::pairs::PairCuts;
use super::safe;
use super::solver::{Basis, Limits, Lp, Outcome, Sense, Status};
use crate::bounds::NeuronBounds;
use crate::network::Network;
use crate::region::Hyperbox;

/// Each LP may take at most the time left divided by this (the first of a worker: by 2), and
/// at least `PER_LP_MIN`.
const PER_LP_SHARE: f64 = 8.0;
const PER_LP_MIN: Duration = Duration::from_millis(200);
/// Once a worker has solved `STALL_SAMPLES` LPs of a layer, each later one may take at most
/// `STALL_FACTOR` times their median (and at least `PER_LP_MIN`). On 784-256-256-10 (3-1 at
/// ε = 0.03, no time limit) 246 of 252 LPs took 0.04–0.32 s and 6 stalled until their share of
/// the time ran out (17–25 s each, 129 of 168 s), leaving their bounds as they were. A stall is
/// the primal simplex's, from the last optimum: the same basis solved the neuron's other side
/// in 0.07 s.
const STALL_FACTOR: u32 = 10;
const STALL_SAMPLES: usize = 1;

/// How the tightening LPs are strengthened by cuts: the defaults are measured on
/// 784-256×4-10 and 784-256-256-10 (README, "Tried, not kept: a cheaper tightening pass");
/// they are settings rather than constants so that each trade-off can be measured again
/// (`examples/probe_tighten.rs`) without editing the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cuts {
    /// Cut rounds per LP (each separates at the last optimum and re-solves); 0: no cuts.
    pub rounds: usize,
    /// The most violated cuts added per round.
    pub per_round: usize,
    /// A cut not binding at any of the last this many optima is dropped.
    pub idle: usize,
    /// Pair cuts ([`super::pairs`]) over the pairs among this many neurons per earlier layer
    /// (those the LP point exploits most); 0: none.
    pub pair_top: usize,
}

impl Default for Cuts {
    fn default() -> Self {
        Cuts {
            rounds: 3,
            per_round: 20,
            idle: 6,
            pair_top: 16,
        }
    }
}

impl Cuts {
    /// The triangle relaxation alone.
    pub fn none() -> Self {
        Cuts {
            rounds: 0,
            ..Cuts::default()
        }
    }

    /// These cuts without the pair cuts.
    pub fn without_pairs(self) -> Self {
        Cuts {
            pair_top: 0,
            ..self
        }
    }
}

/// Worker threads (each its own HiGHS instance).
const MAX_WORKERS: usize = 2;

/// What one tightening pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Tightening {
    /// LPs solved (a neuron's side with its cut rounds counts once).
    pub lps: usize,
    /// Unstable ReLUs before and after.
    pub unstable_before: usize,
    /// See `unstable_before`.
    pub unstable_after: usize,
    /// Whether the budget or deadline cut the pass short.
    pub truncated: bool,
    /// Cuts added to the LPs.
    pub cuts: usize,
}

/// The network's first `k + 1` layers, the last one without its ReLU: its outputs are the
/// pre-activations of layer `k`.
fn prefix(net: &Network, k: usize) -> Option<Network> {
    let mut layers: Vec<_> = net.layers()[..=k].to_vec();
    layers.last_mut()?.relu = false;
    Network::new(layers, net.input_shape().to_vec()).ok()
}

/// What one worker found for its share of a layer's neurons: `(neuron, lower, upper)` bounds
/// (each valid, to be intersected with the old ones).
#[derive(Default)]
struct Found {
    bounds: Vec<(usize, f64, f64)>,
    lps: usize,
    cuts: usize,
    truncated: bool,
    failed: bool,
}

/// One layer's tightening, shared by its workers: `enc` encodes the layers up to `k` over the
/// bounds so far, whose layer-`k` part is `lower`/`upper`; `start` is a feasible basis of
/// `enc`'s LP.
struct LayerJob<'a> {
    enc: &'a Encoding,
    k: usize,
    lower: &'a [f64],
    upper: &'a [f64],
    stop_at: Option<Instant>,
    cuts: Cuts,
    start: Option<&'a Basis>,
    /// Pair cuts over the earlier layers, shared by the workers (their octagons are computed
    /// once).
    pairs: Option<std::sync::Arc<PairCuts>>,
}

/// Tightens neurons `todo` of the job's layer with one LP and one cut pool.
fn tighten_share(job: &LayerJob, todo: &[usize]) -> Found {
    let LayerJob {
        enc,
        k,
        lower,
        upper,
        stop_at,
        cuts,
        start,
        ref pairs,
    } = *job;
    let mut found = Found::default();
    let out_of_time = || stop_at.is_some_and(|t| Instant::now() >= t);
    let mut pool = Pool::new(&enc.milp, cuts.per_round, cuts.idle);
    if let Some(pc) = pairs {
        pool = pool.with_pairs(pc.clone(), cuts.pair_top, stop_at);
    }
    let Ok(mut lp) = Lp::new(&enc.milp, Sense::Maximise) else {
        found.failed = true;
        return found;
    };
    if lp.prefer_primal().is_err() {
        found.failed = true;
        return found;
    }
    let mut solves = 0usize;
    // Times of this worker's optimal LPs (with their cut rounds), sorted, for the stall cap.
    let mut times: Vec<Duration> = Vec::new();
    let mut current: Option<usize> = None;
    let mut good: Option<Basis> = start.filter(|b| lp.set_basis(b)).cloned();
    for &i in todo {
        // Each output is a single column y_i (with its row y_i = W_k h + b_k).
        let Some(&(col, coef)) = enc.outputs[i].terms.first() else {
            continue;
        };
        let (mut lo, mut hi) = (lower[i], upper[i]);
        // The smaller side first; once stable, the other side no longer matters.
        let sides = if hi <= -lo {
            [true, false]
        } else {
            [false, true]
        };
        for upper_side in sides {
            if out_of_time() {
                found.truncated = true;
                break;
            }
            if hi <= 0.0 || lo >= 0.0 {
                break;
            }
            let sign = if upper_side { coef } else { -coef };
            if let Some(prev) = current.replace(col) {
                if prev != col && lp.set_cost(prev, 0.0).is_err() {
                    found.failed = true;
                    break;
                }
            }
            if lp.set_cost(col, sign).is_err() {
                found.failed = true;
                break;
            }
            // One stalled LP must not eat the pass: each gets at most a share of the time
            // left (the first, cold solve half of it); one that runs out leaves its neuron's
            // bound as it was.
            let now = Instant::now();
            let parts = if good.is_none() { 2.0 } else { PER_LP_SHARE };
            let stall = (times.len() >= STALL_SAMPLES)
                .then(|| (times[times.len() / 2] * STALL_FACTOR).max(PER_LP_MIN));
            let deadline = match stop_at {
                Some(t) => {
                    let share = t.saturating_duration_since(now).div_f64(parts);
                    let share = stall.map_or(share, |c| share.min(c));
                    Some((now + share.max(PER_LP_MIN)).min(t))
                }
                None => stall.map(|c| now + c),
            };
            let limits = Limits {
                deadline,
                relaxation: true,
                ..Limits::default()
            };
            // The smallest bound over the optima of the cut rounds (each is at least as tight
            // as the one before, up to rounding); a round that stops early keeps the others'.
            let mut best: Option<f64> = None;
            let mut note = |pool: &Pool, lp: &Lp, out: &Outcome| {
                if out.status == Status::Optimal {
                    let duals = lp.row_duals();
                    if let Some(v) = safe::upper_bound(&pool.milp, &[(col, sign)], &duals) {
                        best = Some(best.map_or(v, |b: f64| b.min(v)));
                    }
                }
            };
            let Ok(mut out) = lp.solve(&limits) else {
                found.failed = true;
                break;
            };
            note(&pool, &lp, &out);
            for _ in 0..cuts.rounds {
                let (Status::Optimal, Some(sol)) = (out.status, out.solution.as_ref()) else {
                    break;
                };
                match pool.separate(&mut lp, sol, solves) {
                    Some(0) => break,
                    Some(n) => found.cuts += n,
                    None => {
                        found.failed = true;
                        break;
                    }
                }
                // New rows, same objective: the basis is dual feasible.
                let resolved = lp
                    .prefer_dual()
                    .and_then(|()| lp.solve(&limits))
                    .and_then(|o| lp.prefer_primal().map(|()| o));
                let Ok(o) = resolved else {
                    found.failed = true;
                    break;
                };
                out = o;
                note(&pool, &lp, &out);
            }
            if found.failed {
                break;
            }
            solves += 1;
            found.lps += 1;
            if std::env::var_os("PPNN_LOG_LP").is_some() {
                let side = if upper_side { "upper" } else { "lower" };
                eprintln!(
                    "[tighten] layer {k} neuron {i} {side}: {:?} in {:.3} s, {} cuts, {:?}",
                    out.status,
                    now.elapsed().as_secs_f64(),
                    pool.count(),
                    best.map(|v| v / coef.abs() * if upper_side { 1.0 } else { -1.0 })
                );
            }
            if out.status == Status::Optimal {
                let d = now.elapsed();
                times.insert(times.partition_point(|&t| t < d), d);
                if pool.age(&mut lp, solves).is_none() {
                    found.failed = true;
                    break;
                }
                good = lp.basis();
            } else if out_of_time() || out.status == Status::Interrupted {
                found.truncated = true;
            } else if let Some(b) = &good {
                // A stalled solve leaves a basis far from any optimum: the next one restarts
                // from the last optimal basis instead (when the rows still match).
                lp.set_basis(b);
            }
            // v bounds sign·z: the output column carries the pre-activation itself
            // (coefficient ±1 in `outputs`), so v / |coef| bounds ±z directly.
            if let Some(v) = best.map(|v| v / coef.abs()) {
                if upper_side {
                    hi = hi.min(v);
                } else {
                    lo = lo.max(-v);
                }
            }
            if found.truncated {
                break;
            }
        }
        if (lo, hi) != (lower[i], upper[i]) {
            found.bounds.push((i, lo, hi));
        }
        if found.truncated || found.failed {
            break;
        }
    }
    found
}

/// An optimal basis of `enc`'s LP with no objective (a feasible point), within half the time
/// left; `None` when none was found.
fn feasible_basis(net: &Network, enc: &Encoding, stop_at: Option<Instant>) -> Option<Basis> {
    let mut lp = Lp::new(&enc.milp, Sense::Maximise).ok()?;
    lp.prefer_primal().ok()?;
    // From the box corner's execution (feasible up to rounding) there is nothing left for
    // phase 1 to do: 10 ms instead of 1.7 s on 784-256-256-10's second layer.
    if let Some(b) = enc.corner_basis(net) {
        lp.set_basis(&b);
    }
    let now = Instant::now();
    let limits = Limits {
        deadline: stop_at.map(|t| now + t.saturating_duration_since(now) / 2),
        relaxation: true,
        ..Limits::default()
    };
    let out = lp.solve(&limits).ok()?;
    (out.status == Status::Optimal)
        .then(|| lp.basis())
        .flatten()
}

/// Tightens the bounds of every unstable ReLU of the hidden layers after the first, until
/// `stop_at` (if any), with `cuts` in each LP. Returns the new bounds (never
/// looser than `bounds`, valid over `region`) and what was done.
pub fn tighten(
    net: &Network,
    region: &Hyperbox,
    bounds: &NeuronBounds,
    stop_at: Option<Instant>,
    cuts: Cuts,
) -> (NeuronBounds, Tightening) {
    let mut b = bounds.clone();
    let mut stats = Tightening {
        unstable_before: b.unstable_count(net),
        ..Tightening::default()
    };
    let layers = net.layers();
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, MAX_WORKERS);
    for k in 1..layers.len() {
        if !layers[k].relu {
            break;
        }
        // Nearly stable neurons first (smallest side relative to the width): a pass cut short
        // by its budget has then spent its time where an LP is most likely to remove a binary.
        let mut todo: Vec<usize> = (0..layers[k].n_out).filter(|&i| b.unstable(k, i)).collect();
        if todo.is_empty() {
            continue;
        }
        let near = |i: usize| {
            let (l, u) = (b.lower[k][i], b.upper[k][i]);
            u.min(-l) / (u - l)
        };
        todo.sort_by(|&x, &y| near(x).total_cmp(&near(y)));
        let Some(sub) = prefix(net, k) else { break };
        let sub_bounds = NeuronBounds {
            lower: b.lower[..=k].to_vec(),
            upper: b.upper[..=k].to_vec(),
        };
        let enc = Encoding::new(&sub, region, &sub_bounds);
        // A feasible basis, found once for every worker to start from: the box corner's
        // execution (`Encoding::corner_basis`). A cold first solve, phase 1 over the dense first
        // layer, took 1.7–2.1 s on a 784-wide input.
        let now = Instant::now();
        let start = feasible_basis(&sub, &enc, stop_at);
        if std::env::var_os("PPNN_LOG_LP").is_some() {
            eprintln!(
                "[tighten] layer {k}: feasible basis {} in {:.3} s",
                if start.is_some() {
                    "found"
                } else {
                    "not found"
                },
                now.elapsed().as_secs_f64()
            );
        }
        // Interleaved shares, so that every worker starts with nearly stable neurons.
        let shares: Vec<Vec<usize>> = (0..workers.min(todo.len()))
            .map(|w| todo.iter().skip(w).step_by(workers).copied().collect())
            .collect();
        let job = LayerJob {
            enc: &enc,
            k,
            lower: &sub_bounds.lower[k],
            upper: &sub_bounds.upper[k],
            stop_at,
            cuts,
            start: start.as_ref(),
            // The prefix's encoding already has a separator from two ReLU layers on; the
            // second hidden layer's prefix has one ReLU layer, so it gets its own.
            pairs: (cuts.rounds > 0 && cuts.pair_top > 0).then(|| {
                enc.milp.pairs.clone().unwrap_or_else(|| {
                    let sites = enc
                        .binaries
                        .iter()
                        .zip(&enc.milp.relus)
                        .map(|(b, r)| (b.layer, b.neuron, *r));
                    std::sync::Arc::new(PairCuts::new(&sub, &sub_bounds, region, sites))
                })
            }),
        };
        let results: Vec<Found> = std::thread::scope(|s| {
            let handles: Vec<_> = shares
                .iter()
                .map(|share| {
                    let job = &job;
                    s.spawn(move || {
                        // Counted with the branch-and-bound workers, so that no helper
                        // crowds a core this pass uses.
                        let _slot = super::tree::Slot::own();
                        tighten_share(job, share)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join().unwrap_or_else(|_| Found {
                        failed: true,
                        ..Found::default()
                    })
                })
                .collect()
        });
        let mut stop = false;
        for r in results {
            stats.lps += r.lps;
            stats.cuts += r.cuts;
            stats.truncated |= r.truncated;
            stop |= r.truncated || r.failed;
            for (i, lo, hi) in r.bounds {
                b.lower[k][i] = b.lower[k][i].max(lo);
                b.upper[k][i] = b.upper[k][i].min(hi);
            }
        }
        // Later layers: back-substitution over the tighter bounds (whatever was tightened
        // holds, even when the pass stopped inside the layer).
        if !b.refresh_after(net, region, k, &[]) {
            // The box is empty of executions: cannot happen for a non-empty box; keep the
            // bounds as they were rather than trust a contradiction born of rounding.
            b = bounds.clone();
            break;
        }
        if stop {
            break;
        }
    }
    stats.unstable_after = b.unstable_count(net);
    (b, stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::random_net;

    /// The cuts are the point of the LPs: over random deep networks they leave fewer unstable
    /// ReLUs than the triangle relaxation alone, and the cut pool (rows added, aged, deleted)
    /// keeps every bound valid (checked by sampling in the test below, whose even seeds cut).
    #[test]
    fn cuts_stabilise_more_neurons_than_the_triangle_relaxation() {
        let (mut with, mut without, mut before) = (0, 0, 0);
        for seed in 100..108u64 {
            let net = random_net(seed, &[6, 24, 24, 24, 3]);
            // A small box around a point, as robustness questions ask: some neurons are
            // nearly stable there.
            let centre: Vec<f64> = (0..6)
                .map(|i| ((seed + i) % 5) as f64 * 0.3 - 0.6)
                .collect();
            let region = Hyperbox::ball(&centre, 0.15, &Hyperbox::uniform(6, -1.0, 1.0).unwrap());
            let root = NeuronBounds::symbolic(&net, &region);
            let (_, plain) = tighten(&net, &region, &root, None, Cuts::none());
            let (_, cut) = tighten(&net, &region, &root, None, Cuts::default());
            assert!(!plain.truncated && !cut.truncated);
            assert_eq!(plain.cuts, 0);
            before += plain.unstable_before;
            without += plain.unstable_after;
            with += cut.unstable_after;
        }
        assert!(
            with < without && without <= before,
            "unstable: {before} before, {without} after LPs, {with} after LPs with cuts"
        );
    }

    #[test]
    fn tightened_bounds_are_tighter_and_contain_every_sample() {
        let mut gained = 0.0;
        for seed in 0..12u64 {
            let net = random_net(seed, &[5, 16, 16, 16, 4]);
            let region = Hyperbox::uniform(5, -1.0, 1.0).unwrap();
            let root = NeuronBounds::symbolic(&net, &region);
            let (t, stats) = tighten(
                &net,
                &region,
                &root,
                None,
                if seed % 2 == 0 {
                    Cuts::default()
                } else {
                    Cuts::none()
                },
            );
            assert!(!stats.truncated);
            assert!(stats.unstable_after <= stats.unstable_before);
            let width = |b: &NeuronBounds| -> f64 {
                (0..b.lower.len() - 1)
                    .flat_map(|k| (0..b.lower[k].len()).map(move |i| (k, i)))
                    .map(|(k, i)| b.upper[k][i] - b.lower[k][i])
                    .sum()
            };
            gained += width(&root) - width(&t);
            for k in 0..net.layers().len() {
                for i in 0..t.lower[k].len() {
                    assert!(t.lower[k][i] >= root.lower[k][i]);
                    assert!(t.upper[k][i] <= root.upper[k][i]);
                }
            }
            let mut s = seed ^ 0xabcdef;
            for _ in 0..4000 {
                let x: Vec<f64> = (0..5)
                    .map(|_| {
                        s = s
                            .wrapping_mul(6364136223846793005)
                            .wrapping_add(1442695040888963407);
                        ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0
                    })
                    .collect();
                // Corners too: extreme values live there.
                let x: Vec<f64> = if s % 3 == 0 {
                    x.iter().map(|v| v.signum()).collect()
                } else {
                    x
                };
                let tr = net.forward_trace(&x);
                for k in 0..net.layers().len() - 1 {
                    for i in 0..tr[k].len() {
                        assert!(
                            t.lower[k][i] <= tr[k][i] && tr[k][i] <= t.upper[k][i],
                            "seed {seed} layer {k} neuron {i}"
                        );
                    }
                }
            }
        }
        assert!(gained > 1.0, "LP tightening narrowed no bound: {gained}");
    }
}
