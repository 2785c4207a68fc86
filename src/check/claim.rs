//! What a claim asks, and whether a proof's refutations answer all of it.
//!
//! A claim is turned into **questions** "no point of box Q satisfies every row of S" by the
//! checker itself (never read from the proof); a question is **covered** by a refutation of a
//! part whose region contains Q and whose rows are all rows of S (compared exactly, in
//! [`Row::canonical`] form): refuting fewer rows on a larger region proves more.

use std::collections::HashMap;

use crate::proof::{Claim, PartRegion, Proof, Region, Row};

/// A box, remembering when it is the claim's domain restricted on one coordinate (so that two
/// such boxes compare in O(1)).
#[derive(Debug, Clone, PartialEq)]
pub struct Reg {
    /// Lower corner.
    pub lb: Vec<f64>,
    /// Upper corner.
    pub ub: Vec<f64>,
    /// `(i, lo, hi)`: the domain with coordinate `i` restricted to `[lo, hi]`.
    pub slab: Option<(usize, f64, f64)>,
}

impl Reg {
    fn of(r: &Region) -> Reg {
        Reg {
            lb: r.lb.clone(),
            ub: r.ub.clone(),
            slab: None,
        }
    }

    fn slab(domain: &Region, i: usize, lo: f64, hi: f64) -> Reg {
        let mut r = Reg::of(domain);
        r.lb[i] = lo;
        r.ub[i] = hi;
        r.slab = Some((i, lo, hi));
        r
    }

    /// Whether `self` contains `q`.
    pub fn contains(&self, q: &Reg, domain: Option<&Region>) -> bool {
        if let (Some((i, lo, hi)), Some((k, qlo, qhi)), Some(d)) = (self.slab, q.slab, domain) {
            return if i == k {
                lo <= qlo && qhi <= hi
            } else {
                lo <= d.lb[i] && d.ub[i] <= hi
            };
        }
        self.lb.len() == q.lb.len()
            && (0..q.lb.len()).all(|i| self.lb[i] <= q.lb[i] && q.ub[i] <= self.ub[i])
    }

    /// The exact bits of the box (equal keys: equal boxes).
    pub fn key(&self) -> Vec<u64> {
        self.lb
            .iter()
            .chain(&self.ub)
            .map(|v| v.to_bits())
            .collect()
    }
}

/// One question: no point of `region` satisfies all of `rows`.
#[derive(Debug, Clone)]
pub struct Question {
    /// The box.
    pub region: Reg,
    /// The rows, canonical.
    pub rows: Vec<Row>,
    /// What it is, for messages.
    pub what: String,
    /// How a part names its region compactly.
    pub refer: PartRegion,
}

/// The domain of a complete claim (slab parts are relative to it).
pub fn domain(claim: &Claim) -> Option<&Region> {
    match claim {
        Claim::Complete { domain, .. } => Some(domain),
        _ => None,
    }
}

/// The box of a part's region.
pub fn resolve(r: &PartRegion, claim: &Claim, d: usize) -> Result<Reg, String> {
    match r {
        PartRegion::Box(b) => Ok(Reg::of(b)),
        PartRegion::Claim(name) => match claim {
            Claim::Sound { region, .. } if name == "claim" => Ok(Reg::of(region)),
            _ => Err(format!(
                "region \"{name}\" names no region (only \"claim\", of a sound claim)"
            )),
        },
        PartRegion::PropertyBox { index: n } => match claim {
            Claim::Property { boxes, .. } if *n < boxes.len() => Ok(Reg::of(&boxes[*n])),
            _ => Err(format!("region {{\"box\": {n}}} names no box of the claim")),
        },
        PartRegion::Slab { slab: (i, lo, hi) } => {
            let Some(dom) = domain(claim) else {
                return Err("a slab region outside a completeness claim (it has no domain)".into());
            };
            if *i >= d || !(lo <= hi) {
                return Err(format!(
                    "slab [{i}, {lo}, {hi}] is not a coordinate and an interval"
                ));
            }
            Ok(Reg::slab(dom, *i, *lo, *hi))
        }
    }
}

/// The questions `claim` asks of a model with `k_out` outputs.
pub fn questions(claim: &Claim, k_out: usize) -> Vec<Question> {
    match claim {
        Claim::Sound { class, region } => (0..k_out)
            .filter(|j| j != class)
            .map(|j| Question {
                region: Reg::of(region),
                rows: vec![Row::difference(*class, j).canonical()],
                what: format!("class {class} vs {j}"),
                refer: PartRegion::Claim("claim".to_string()),
            })
            .collect(),
        Claim::Complete {
            class,
            domain,
            region,
        } => {
            let rows: Vec<Row> = (0..k_out)
                .filter(|j| j != class)
                .map(|j| Row::difference(j, *class).canonical())
                .collect();
            let mut out = Vec::new();
            for i in 0..domain.lb.len() {
                let (dl, du) = (domain.lb[i], domain.ub[i]);
                if region.ub[i] < du {
                    let lo = region.ub[i].max(dl);
                    out.push(Question {
                        region: Reg::slab(domain, i, lo, du),
                        rows: rows.clone(),
                        what: format!("the slab x_{i} >= {lo} above the box"),
                        refer: PartRegion::Slab { slab: (i, lo, du) },
                    });
                }
                if region.lb[i] > dl {
                    let hi = region.lb[i].min(du);
                    out.push(Question {
                        region: Reg::slab(domain, i, dl, hi),
                        rows: rows.clone(),
                        what: format!("the slab x_{i} <= {hi} below the box"),
                        refer: PartRegion::Slab { slab: (i, dl, hi) },
                    });
                }
            }
            out
        }
        Claim::Property { boxes, disjuncts } => disjuncts
            .iter()
            .enumerate()
            .filter_map(|(n, d)| {
                // (A box index out of range is refused with the claim's shape.)
                Some(Question {
                    region: Reg::of(boxes.get(d.region)?),
                    rows: d.rows.iter().map(Row::canonical).collect(),
                    what: format!("disjunct {n}"),
                    refer: PartRegion::PropertyBox { index: d.region },
                })
            })
            .collect(),
    }
}

/// Checks that every question is covered by a refutation of `proof` (whose parts' regions are
/// `regions`).
pub fn cover(proof: &Proof, regions: &[Reg], questions: &[Question]) -> Result<(), String> {
    let dom = domain(&proof.claim);
    // Refutation rows in canonical form, and an index of the parts by exact region.
    let rows: Vec<Vec<Vec<Row>>> = proof
        .parts
        .iter()
        .map(|p| {
            p.refuted
                .iter()
                .map(|r| r.rows.iter().map(Row::canonical).collect())
                .collect()
        })
        .collect();
    let mut by_region: HashMap<Vec<u64>, Vec<usize>> = HashMap::new();
    for (n, r) in regions.iter().enumerate() {
        by_region.entry(r.key()).or_default().push(n);
    }
    let answers = |n: usize, q: &Question| {
        rows[n]
            .iter()
            .any(|t| t.iter().all(|row| q.rows.contains(row)))
    };
    for q in questions {
        let exact = by_region.get(&q.region.key());
        let hit = exact.is_some_and(|ns| ns.iter().any(|&n| answers(n, q)))
            || (0..regions.len()).any(|n| answers(n, q) && regions[n].contains(&q.region, dom));
        if !hit {
            let rows: Vec<String> = q.rows.iter().map(|r| r.to_string()).collect();
            let shown = if rows.len() > 3 {
                format!("{} and {} more", rows[..3].join(", "), rows.len() - 3)
            } else {
                rows.join(", ")
            };
            return Err(format!(
                "{} is not covered: no part refutes [{shown}] on a region containing it (a missing part)",
                q.what
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proof::{Bounds, By, Part, Refutation, FORMAT, VERSION};

    fn boxed(lb: &[f64], ub: &[f64]) -> Region {
        Region {
            lb: lb.to_vec(),
            ub: ub.to_vec(),
        }
    }

    #[test]
    fn a_dual_box_asks_for_the_closed_slabs_beyond_its_faces_inside_the_domain() {
        let claim = Claim::Complete {
            class: 1,
            domain: boxed(&[0.0, -1.0], &[1.0, 1.0]),
            // Face x0 = 0 on the domain's boundary: no slab; x1's box reaches past D.
            region: boxed(&[0.0, -2.0], &[0.5, 0.25]),
        };
        let qs = questions(&claim, 3);
        let slabs: Vec<_> = qs.iter().map(|q| q.region.slab.unwrap()).collect();
        assert_eq!(slabs, vec![(0, 0.5, 1.0), (1, 0.25, 1.0)]);
        // Class points are those with y_j - y_1 <= τ for both competitors.
        assert_eq!(qs[0].rows.len(), 2);
        assert!(qs[0].rows.contains(&Row::difference(0, 1).canonical()));
        assert!(qs[0].rows.contains(&Row::difference(2, 1).canonical()));
        assert!(qs[0].what.contains("x_0 >= 0.5"));
    }

    #[test]
    fn a_question_is_covered_by_a_larger_region_and_fewer_rows_only() {
        let region = boxed(&[0.2, 0.2], &[0.4, 0.4]);
        let claim = Claim::Sound {
            class: 0,
            region: region.clone(),
        };
        let part = |r: Region, rows: Vec<Row>| Part {
            region: PartRegion::Box(r),
            bounds: Bounds {
                lower: vec![],
                upper: vec![],
                slopes: vec![],
            },
            refuted: vec![Refutation {
                rows,
                by: By::Bounds,
            }],
        };
        let proof = |parts: Vec<Part>| Proof {
            format: FORMAT.to_string(),
            version: VERSION,
            model_sha256: String::new(),
            margin: 0.0,
            claim: claim.clone(),
            center: None,
            parts,
        };
        let qs = questions(&claim, 2);
        let cover_of = |p: &Proof| {
            let regs: Vec<Reg> = p
                .parts
                .iter()
                .map(|x| resolve(&x.region, &p.claim, 2).unwrap())
                .collect();
            cover(p, &regs, &qs)
        };
        let wide = boxed(&[0.0, 0.0], &[1.0, 1.0]);
        assert!(cover_of(&proof(vec![part(
            wide.clone(),
            vec![Row::difference(0, 1)]
        )]))
        .is_ok());
        // Another row (the wrong competitor's direction), a smaller region.
        let e = cover_of(&proof(vec![part(wide, vec![Row::difference(1, 0)])])).unwrap_err();
        assert!(e.contains("class 0 vs 1 is not covered"), "{e}");
        let small = boxed(&[0.2, 0.2], &[0.4, 0.39]);
        assert!(cover_of(&proof(vec![part(small, vec![Row::difference(0, 1)])])).is_err());
        // A slab outside a completeness claim names no region.
        let e = resolve(
            &PartRegion::Slab {
                slab: (0, 0.0, 1.0),
            },
            &claim,
            2,
        )
        .unwrap_err();
        assert!(e.contains("completeness"), "{e}");
    }
}
