//! Optimisation questions of the [`MilpOracle`]: the nearest violation (the exact apothem's
//! core) and the furthest extent of a face, each as MILPs per competitor sharing a cut-off.

use super::*;

/// One round of a nearest-violation optimisation.
struct Round {
    bound: f64,
    best: Option<(f64, Vec<f64>)>,
    reasons: Vec<String>,
}

impl MilpOracle<'_> {
    /// Minimises `‖x - center‖∞` over the points of `region ∩ D` where some competitor reaches
    /// `y_j - y_c >= threshold`: one MILP per competitor not excluded by bounds, in parallel,
    /// sharing a cut-off. Two rounds: a node-limited one finds a good point at distance `t1`
    /// quickly; the exact one then works in the smaller box `B∞(center, t1)`, where bounds are
    /// tighter and far fewer ReLUs are unstable.
    pub(super) fn nearest_violation(
        &self,
        center: &[f64],
        region: &Hyperbox,
        c: usize,
        threshold: f64,
        max_nodes: Option<u64>,
        start: Instant,
    ) -> (Optimum, Method) {
        let finished = |bound: f64, best, method| {
            (
                Optimum {
                    bound,
                    best,
                    exact: true,
                    reason: None,
                    time: start.elapsed(),
                },
                method,
            )
        };
        let Some(region) = region.intersect(&self.domain) else {
            return finished(f64::INFINITY, None, Method::Concrete);
        };
        let cutoff = std::sync::atomic::AtomicU64::new(f64::INFINITY.to_bits());
        let quick = self.nearest_round(
            center,
            &region,
            c,
            threshold,
            &cutoff,
            max_nodes.or(Some(40)),
        );
        let Some(quick) = quick else {
            // Bounds exclude every competitor.
            return finished(f64::INFINITY, None, Method::Interval);
        };
        if max_nodes.is_some() {
            // Only the proposal is wanted.
            let exact = quick.reasons.is_empty();
            return (
                Optimum {
                    bound: if exact { quick.bound } else { 0.0 },
                    best: quick.best,
                    exact,
                    reason: (!exact).then(|| "quick search (node-limited)".to_string()),
                    time: start.elapsed(),
                },
                Method::Milp,
            );
        }
        let mut region2 = region.clone();
        if let Some((t1, _)) = &quick.best {
            let r = t1 * (1.0 + 1e-9) + 1e-12;
            region2 = Hyperbox::ball(center, r, &region);
        }
        let exact = self
            .nearest_round(center, &region2, c, threshold, &cutoff, None)
            .unwrap_or(Round {
                bound: f64::INFINITY,
                best: None,
                reasons: Vec::new(),
            });
        // The quick round's point bounds the optimum from above; the exact round proves every
        // competitor's distance is at least `exact.bound` or not below that point.
        let mut best = exact.best;
        if let Some((t1, p)) = quick.best {
            if best.as_ref().is_none_or(|(v, _)| t1 < *v) {
                best = Some((t1, p));
            }
        }
        let bound = exact
            .bound
            .min(best.as_ref().map_or(f64::INFINITY, |b| b.0));
        let mut reasons = exact.reasons;
        let ok = reasons.is_empty();
        reasons.sort();
        reasons.dedup();
        (
            Optimum {
                bound,
                best,
                exact: ok,
                reason: (!ok).then(|| reasons.join("; ")),
                time: start.elapsed(),
            },
            Method::Milp,
        )
    }

    /// Optimises one coordinate over the violating points of `region ∩ D` (see
    /// [`Extremum::FaceExtent`]): one MILP per competitor not excluded by bounds, in parallel,
    /// sharing a cut-off seeded by any known counterexample in the box.
    pub(super) fn face_extent(
        &self,
        region: &Hyperbox,
        c: usize,
        coord: usize,
        upper: bool,
        threshold: f64,
        start: Instant,
    ) -> (Optimum, Method) {
        let none = |method| {
            (
                Optimum {
                    bound: if upper {
                        f64::INFINITY
                    } else {
                        f64::NEG_INFINITY
                    },
                    best: None,
                    exact: true,
                    reason: None,
                    time: start.elapsed(),
                },
                method,
            )
        };
        let Some(region) = region.intersect(&self.domain) else {
            return none(Method::Concrete);
        };
        let net = self.net;
        let bounds = NeuronBounds::compute(net, &region, self.settings.bounds);
        let mut open: Vec<(usize, f64, f64)> = self
            .margin_bounds(&bounds, &region, c)
            .into_iter()
            .filter(|&(_, _, hi)| hi >= threshold)
            .collect();
        if open.is_empty() {
            return none(Method::Interval);
        }
        open.sort_by(|a, b| b.2.total_cmp(&a.2));
        let Some(time_limit) = self.milp_time_limit() else {
            return (
                Optimum {
                    reason: Some("the run's time limit was reached".to_string()),
                    time: start.elapsed(),
                    ..Optimum::unknown("", upper)
                },
                Method::Milp,
            );
        };
        // A known counterexample in the box bounds the optimum already.
        let sign = if upper { 1.0 } else { -1.0 };
        let seed = {
            let pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
            pool.iter()
                .filter(|(k, x)| *k == c && region.contains(x))
                .map(|(_, x)| x[coord])
                .fold(f64::INFINITY, |a, v| a.min(sign * v))
        };
        let cutoff = std::sync::atomic::AtomicU64::new((sign * seed).to_bits());
        let enc = Encoding::new(net, &region, &bounds);
        let limits = Limits {
            cutoff: Some(&cutoff),
            ..self.limits(time_limit)
        };
        let sense = if upper {
            crate::milp::solver::Sense::Minimise
        } else {
            crate::milp::solver::Sense::Maximise
        };
        let js: Vec<usize> = open.iter().map(|o| o.0).collect();
        let run = |&j: &usize| {
            query::extreme_coordinate(&enc, coord, sense, &[enc.margin(c, j)], threshold, &limits)
        };
        let answers: Vec<_> = if self.settings.parallel {
            ordered_par_map(&js, run)
        } else {
            js.iter().map(run).collect()
        };
        // Internally everything is a minimisation of sign * x_coord.
        let mut bound = f64::INFINITY;
        let mut best: Option<(f64, Vec<f64>)> = None;
        let mut reasons = Vec::new();
        for a in answers {
            let a = match a {
                Ok(a) => a,
                Err(e) => {
                    reasons.push(format!("solver error: {e}"));
                    bound = f64::NEG_INFINITY;
                    continue;
                }
            };
            self.add_milp_time(1, a.outcome.time);
            let dual = a.outcome.dual_bound.map(|v| sign * v);
            let obj = a.outcome.objective.map(|v| sign * v);
            let lower = match a.outcome.status {
                Status::Infeasible => f64::INFINITY,
                Status::CutOff => dual.unwrap_or(f64::NEG_INFINITY),
                Status::Optimal => dual
                    .or(obj)
                    .unwrap_or(f64::NEG_INFINITY)
                    .min(obj.unwrap_or(f64::INFINITY)),
                other => {
                    reasons.push(match other {
                        Status::TimeLimit => "MILP time limit reached".to_string(),
                        s => format!("solver ended with status {s:?}"),
                    });
                    dual.unwrap_or(f64::NEG_INFINITY)
                }
            };
            bound = bound.min(lower);
            if let Some(p) = a.point {
                let x = region.clamp(&p);
                let v = sign * x[coord];
                if best.as_ref().is_none_or(|(b, _)| v < *b) {
                    best = Some((v, x));
                }
            }
        }
        // The pooled counterexample, if it is the best known point.
        if seed.is_finite() && best.as_ref().is_none_or(|(b, _)| seed < *b) {
            let pool = self.pool.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((_, x)) = pool
                .iter()
                .find(|(k, x)| *k == c && region.contains(x) && sign * x[coord] == seed)
            {
                best = Some((seed, x.clone()));
            }
        }
        bound = bound.min(seed);
        let exact = reasons.is_empty();
        reasons.sort();
        reasons.dedup();
        (
            Optimum {
                bound: sign * bound,
                best: best.map(|(v, x)| (sign * v, x)),
                exact,
                reason: (!exact).then(|| reasons.join("; ")),
                time: start.elapsed(),
            },
            Method::Milp,
        )
    }

    /// One round of [`Self::nearest_violation`] over `region` (already inside D). `None` when
    /// bounds exclude every competitor.
    fn nearest_round(
        &self,
        center: &[f64],
        region: &Hyperbox,
        c: usize,
        threshold: f64,
        cutoff: &std::sync::atomic::AtomicU64,
        max_nodes: Option<u64>,
    ) -> Option<Round> {
        let net = self.net;
        let bounds = NeuronBounds::compute(net, region, self.settings.bounds);
        let mut open: Vec<(usize, f64, f64)> = self
            .margin_bounds(&bounds, region, c)
            .into_iter()
            .filter(|&(_, _, hi)| hi >= threshold)
            .collect();
        if open.is_empty() {
            return None;
        }
        // Most dangerous competitors first: they set the cut-off for the others.
        open.sort_by(|a, b| b.2.total_cmp(&a.2));
        let open: Vec<usize> = open.into_iter().map(|o| o.0).collect();
        let Some(time_limit) = self.milp_time_limit() else {
            return Some(Round {
                bound: f64::NEG_INFINITY,
                best: None,
                reasons: vec!["the run's time limit was reached".to_string()],
            });
        };
        let t_max = (0..region.dim())
            .map(|i| (center[i] - region.lb()[i]).max(region.ub()[i] - center[i]))
            .fold(0.0, f64::max);
        let enc = Encoding::new(net, region, &bounds);
        let limits = Limits {
            cutoff: Some(cutoff),
            max_nodes,
            ..self.limits(time_limit)
        };
        let run = |&j: &usize| query::min_radius(&enc, center, c, j, threshold, t_max, &limits);
        let answers: Vec<_> = if self.settings.parallel {
            ordered_par_map(&open, run)
        } else {
            open.iter().map(run).collect()
        };
        let mut round = Round {
            bound: f64::INFINITY,
            best: None,
            reasons: Vec::new(),
        };
        for a in answers {
            let a = match a {
                Ok(a) => a,
                Err(e) => {
                    round.reasons.push(format!("solver error: {e}"));
                    round.bound = f64::NEG_INFINITY;
                    continue;
                }
            };
            self.add_milp_time(1, a.outcome.time);
            let lower = match a.outcome.status {
                Status::Infeasible => f64::INFINITY,
                Status::CutOff => a.outcome.dual_bound.unwrap_or(f64::NEG_INFINITY),
                Status::Optimal => a
                    .outcome
                    .dual_bound
                    .or(a.outcome.objective)
                    .unwrap_or(f64::NEG_INFINITY)
                    .min(a.outcome.objective.unwrap_or(f64::INFINITY)),
                other => {
                    round.reasons.push(match other {
                        Status::TimeLimit => "MILP time limit reached".to_string(),
                        Status::NodeLimit => "node limit reached".to_string(),
                        s => format!("solver ended with status {s:?}"),
                    });
                    a.outcome.dual_bound.unwrap_or(f64::NEG_INFINITY)
                }
            };
            round.bound = round.bound.min(lower.max(0.0));
            if let Some(p) = a.point {
                let x = region.clamp(&p);
                let d = x
                    .iter()
                    .zip(center)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f64::max);
                if round.best.as_ref().is_none_or(|(v, _)| d < *v) {
                    round.best = Some((d, x));
                }
            }
        }
        Some(round)
    }
}
