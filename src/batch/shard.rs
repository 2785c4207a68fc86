//! The matrix of (input, algorithm) pairs and its deterministic slices ("shards") for job arrays.
//!
//! Every task of a Slurm array runs the same command line; each must take a slice of the matrix
//! that depends only on the matrix and the shard number — never on timing, on which pairs are
//! already done, or on the order of the arguments — so that a requeued task takes the same
//! slice again and the slices are disjoint and cover the matrix.
//!
//! Balance: algorithms differ in cost by orders of magnitude (a cyclic bisection asks a handful
//! of questions, a face-by-face expansion thousands), so slicing by position alone could hand one
//! shard all the slow pairs. Pairs are dealt greedily, heaviest algorithm first, each to the
//! shard with the least estimated load so far (ties: fewer pairs, then lower number): the
//! estimated loads of any two shards differ by at most one pair's weight, and on a matrix of
//! equal weights the pair counts differ by at most one. Each algorithm's inputs are dealt from a
//! rotated start, so that a hard input does not land on the same shard for every algorithm.

use std::path::{Path, PathBuf};

/// Errors of shard specifications.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShardError {
    /// `--shard` is not `K/N` with `1 <= K <= N`.
    #[error("--shard expects K/N with 1 <= K <= N (e.g. 2/8), got '{0}'")]
    Spec(String),
    /// The Slurm array variables do not name a shard.
    #[error("cannot take a shard from the Slurm array variables ({0}); pass --shard K/N")]
    Env(String),
}

/// The K-th (1-based) of N slices of a matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// K, from 1 to `count`.
    pub index: usize,
    /// N.
    pub count: usize,
}

impl Shard {
    /// Parses `K/N`.
    pub fn parse(spec: &str) -> Result<Shard, ShardError> {
        let bad = || ShardError::Spec(spec.to_string());
        let (k, n) = spec.split_once('/').ok_or_else(bad)?;
        let k: usize = k.trim().parse().map_err(|_| bad())?;
        let n: usize = n.trim().parse().map_err(|_| bad())?;
        if k == 0 || n == 0 || k > n {
            return Err(bad());
        }
        Ok(Shard { index: k, count: n })
    }

    /// The shard of a Slurm array task, from `SLURM_ARRAY_TASK_ID` and `SLURM_ARRAY_TASK_COUNT`
    /// (or, when the count is absent, `SLURM_ARRAY_TASK_MAX`), offset by
    /// `SLURM_ARRAY_TASK_MIN`: tasks `MIN..=MAX` are shards `1..=N`. `Ok(None)` outside an array
    /// job. `get` reads a variable (`std::env::var` in the program; a map in tests).
    ///
    /// The variables describe the array as submitted: a task resubmitted alone (`--array=3`)
    /// would see an array of one task, so the scripts pass `--shard` explicitly and this is the
    /// fallback for hand-written job scripts. Stepped arrays (`--array=1-9:2`) are refused.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<Shard>, ShardError> {
        let Some(id) = get("SLURM_ARRAY_TASK_ID") else {
            return Ok(None);
        };
        let num = |name: &str| -> Result<Option<usize>, ShardError> {
            match get(name) {
                None => Ok(None),
                Some(v) => v
                    .trim()
                    .parse()
                    .map(Some)
                    .map_err(|_| ShardError::Env(format!("{name}='{v}' is not a number"))),
            }
        };
        let id = id
            .trim()
            .parse::<usize>()
            .map_err(|_| ShardError::Env(format!("SLURM_ARRAY_TASK_ID='{id}' is not a number")))?;
        if let Some(step) = num("SLURM_ARRAY_TASK_STEP")? {
            if step != 1 {
                return Err(ShardError::Env(format!(
                    "SLURM_ARRAY_TASK_STEP={step}: a stepped array"
                )));
            }
        }
        let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
        let count = match (num("SLURM_ARRAY_TASK_COUNT")?, num("SLURM_ARRAY_TASK_MAX")?) {
            (Some(c), _) => c,
            (None, Some(max)) if max >= min => max - min + 1,
            _ => {
                return Err(ShardError::Env(
                    "neither SLURM_ARRAY_TASK_COUNT nor SLURM_ARRAY_TASK_MAX".to_string(),
                ))
            }
        };
        if id < min || id - min >= count {
            return Err(ShardError::Env(format!(
                "task {id} is not among the {count} tasks from {min}"
            )));
        }
        Ok(Some(Shard {
            index: id - min + 1,
            count,
        }))
    }

    /// `K-of-N`, as in file names.
    pub fn label(&self) -> String {
        format!("{}-of-{}", self.index, self.count)
    }

    /// The shard's results file beside `out`: `results.jsonl` → `results.K-of-N.jsonl` (a name
    /// without extension gets `.K-of-N.jsonl`).
    pub fn results_path(&self, out: &Path) -> PathBuf {
        let stem = out
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let ext = out
            .extension()
            .map(|e| e.to_string_lossy().to_string())
            .unwrap_or_else(|| "jsonl".to_string());
        out.with_file_name(format!("{stem}.{}.{ext}", self.label()))
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// A rough relative cost of one pair of an algorithm, for balancing only, from the mean times
/// per pair of the single-machine matrix in `experiments/` (MNIST and Fashion-MNIST, 60 s per
/// pair): the cyclic searches take 0.01–0.2 s (1), the dual box and the complete bottom-up
/// growth 0.4–4 s (8), the exact apothem 2–33 s (16), and the face-by-face expansions and
/// top-down cuts mostly run into the time limit (64). Unknown names count as the most
/// expensive: better to spread them than to pile them up.
pub fn cost_weight(algorithm: &str) -> u64 {
    match algorithm {
        "c-bu-d" | "c-bu-l" | "c-td" | "complete-c-d-bu" => 1,
        "dual" | "complete-bu" => 8,
        "apothem" => 16,
        _ => 64,
    }
}

/// Inputs × algorithms, by name. Both lists keep their first-seen order (the order results are
/// written in); duplicates are dropped.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Matrix {
    /// Input files as recorded in the results.
    pub inputs: Vec<String>,
    /// Algorithm names (canonical: `Algorithm::name`).
    pub algorithms: Vec<String>,
}

impl Matrix {
    /// The matrix of `inputs` × `algorithms` without duplicates.
    pub fn new(inputs: Vec<String>, algorithms: Vec<String>) -> Matrix {
        Matrix {
            inputs: dedup(inputs),
            algorithms: dedup(algorithms),
        }
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.inputs.len() * self.algorithms.len()
    }

    /// Whether the matrix has no pair.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every pair, input-major, as `(input index, algorithm index)`.
    pub fn pairs(&self) -> Vec<(usize, usize)> {
        (0..self.inputs.len())
            .flat_map(|i| (0..self.algorithms.len()).map(move |a| (i, a)))
            .collect()
    }

    /// The union of two matrices (this one's order first).
    pub fn union(&self, other: &Matrix) -> Matrix {
        let mut inputs = self.inputs.clone();
        inputs.extend(other.inputs.iter().cloned());
        let mut algorithms = self.algorithms.clone();
        algorithms.extend(other.algorithms.iter().cloned());
        Matrix::new(inputs, algorithms)
    }

    /// The shard (1-based) of every pair of [`Matrix::pairs`] among `count` shards.
    ///
    /// Depends only on the sets of inputs and algorithms, not on their order: inputs are dealt
    /// in name order, algorithms by decreasing [`cost_weight`] then name.
    pub fn assign(&self, count: usize) -> Vec<usize> {
        let count = count.max(1);
        let n_alg = self.algorithms.len();
        let mut shard_of = vec![0usize; self.len()];
        let mut inputs: Vec<usize> = (0..self.inputs.len()).collect();
        inputs.sort_by(|&a, &b| self.inputs[a].cmp(&self.inputs[b]));
        let mut algs: Vec<usize> = (0..n_alg).collect();
        algs.sort_by(|&a, &b| {
            let (x, y) = (&self.algorithms[a], &self.algorithms[b]);
            cost_weight(y).cmp(&cost_weight(x)).then(x.cmp(y))
        });
        let mut load = vec![0u64; count];
        let mut pairs = vec![0usize; count];
        for (g, &a) in algs.iter().enumerate() {
            let w = cost_weight(&self.algorithms[a]);
            for t in 0..inputs.len() {
                let i = inputs[(t + g) % inputs.len()];
                let k = (0..count)
                    .min_by_key(|&k| (load[k], pairs[k], k))
                    .unwrap_or(0);
                load[k] += w;
                pairs[k] += 1;
                shard_of[i * n_alg + a] = k + 1;
            }
        }
        shard_of
    }

    /// The pairs of one shard, in [`Matrix::pairs`] order.
    pub fn shard_pairs(&self, shard: Shard) -> Vec<(usize, usize)> {
        let owner = self.assign(shard.count);
        self.pairs()
            .into_iter()
            .zip(owner)
            .filter(|&(_, k)| k == shard.index)
            .map(|(p, _)| p)
            .collect()
    }
}

fn dedup(v: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    v.into_iter().filter(|s| seen.insert(s.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn parse_and_paths() {
        assert_eq!(Shard::parse("2/8"), Ok(Shard { index: 2, count: 8 }));
        for bad in ["0/3", "4/3", "3", "a/b", "1/0", ""] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
        let s = Shard { index: 2, count: 8 };
        assert_eq!(
            s.results_path(Path::new("out/results.jsonl")),
            PathBuf::from("out/results.2-of-8.jsonl")
        );
        assert_eq!(
            s.results_path(Path::new("res")),
            PathBuf::from("res.2-of-8.jsonl")
        );
    }

    #[test]
    fn shard_from_slurm_variables() {
        assert_eq!(Shard::from_env(env(&[])), Ok(None));
        let s = Shard::from_env(env(&[
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]));
        assert_eq!(s, Ok(Some(Shard { index: 1, count: 4 })));
        // 1-based arrays, count from MAX.
        let s = Shard::from_env(env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "3"),
        ]));
        assert_eq!(s, Ok(Some(Shard { index: 3, count: 3 })));
        // Sparse arrays and steps cannot be mapped.
        assert!(Shard::from_env(env(&[
            ("SLURM_ARRAY_TASK_ID", "7"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "2"),
        ]))
        .is_err());
        assert!(Shard::from_env(env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_MAX", "9"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
        ]))
        .is_err());
        assert!(Shard::from_env(env(&[("SLURM_ARRAY_TASK_ID", "x")])).is_err());
        assert!(Shard::from_env(env(&[("SLURM_ARRAY_TASK_ID", "1")])).is_err());
    }

    fn matrix(n_inputs: usize, algs: &[&str]) -> Matrix {
        Matrix::new(
            (0..n_inputs).map(|i| format!("in/{i:03}.csv")).collect(),
            algs.iter().map(|s| s.to_string()).collect(),
        )
    }

    /// Disjoint and covering: every pair in exactly one shard, for many sizes.
    #[test]
    fn shards_partition_the_matrix() {
        let algs = ["apothem", "c-bu-d", "bu-d-dfs", "dual", "td+bu-d-dfs"];
        for n_inputs in [1, 2, 5, 7, 50] {
            for n_alg in 1..=algs.len() {
                let m = matrix(n_inputs, &algs[..n_alg]);
                for count in [1, 2, 3, 8, 300] {
                    let mut seen = vec![0; m.len()];
                    for k in 1..=count {
                        for (i, a) in m.shard_pairs(Shard { index: k, count }) {
                            seen[i * m.algorithms.len() + a] += 1;
                        }
                    }
                    assert!(seen.iter().all(|&s| s == 1), "{n_inputs} {n_alg} {count}");
                }
            }
        }
    }

    /// Balanced: estimated loads within one pair's weight; equal weights give counts within one.
    #[test]
    fn shards_are_balanced() {
        let algs = ["maximal", "c-bu-d", "apothem", "dual", "c-td", "bu-d-dfs"];
        for n_inputs in [3, 10, 50] {
            for count in [2, 3, 7] {
                let m = matrix(n_inputs, &algs);
                let owner = m.assign(count);
                let mut load = vec![0u64; count];
                for ((_, a), k) in m.pairs().into_iter().zip(&owner) {
                    load[k - 1] += cost_weight(&m.algorithms[a]);
                }
                let (lo, hi) = (load.iter().min().unwrap(), load.iter().max().unwrap());
                assert!(hi - lo <= 64, "{load:?}");
                // The slow algorithms are spread: no shard gets all of them.
                let slow: Vec<usize> = m
                    .pairs()
                    .into_iter()
                    .zip(&owner)
                    .filter(|((_, a), _)| cost_weight(&m.algorithms[*a]) == 64)
                    .map(|(_, &k)| k)
                    .collect();
                let per: Vec<usize> = (1..=count)
                    .map(|k| slow.iter().filter(|&&s| s == k).count())
                    .collect();
                assert!(
                    per.iter().max().unwrap() - per.iter().min().unwrap() <= 1,
                    "{per:?}"
                );
            }
        }
        let m = matrix(10, &["c-bu-d"]);
        let counts: Vec<usize> = (1..=3)
            .map(|k| m.shard_pairs(Shard { index: k, count: 3 }).len())
            .collect();
        assert_eq!(counts, vec![4, 3, 3]);
    }

    /// Deterministic, and independent of the order of inputs and algorithms.
    #[test]
    fn assignment_ignores_argument_order() {
        let a = matrix(9, &["apothem", "c-bu-d", "dual"]);
        let mut b = a.clone();
        b.inputs.reverse();
        b.algorithms = vec!["dual".into(), "apothem".into(), "c-bu-d".into()];
        let owner_of = |m: &Matrix| -> std::collections::BTreeMap<(String, String), usize> {
            m.pairs()
                .into_iter()
                .zip(m.assign(4))
                .map(|((i, al), k)| ((m.inputs[i].clone(), m.algorithms[al].clone()), k))
                .collect()
        };
        assert_eq!(owner_of(&a), owner_of(&b));
        assert_eq!(a.assign(4), a.assign(4));
        // A hard input is not on the same shard for every algorithm.
        let m = matrix(6, &["c-bu-d", "c-td"]);
        let owner = m.assign(3);
        assert_ne!(
            owner[0], owner[1],
            "input 0 on one shard for both algorithms"
        );
    }

    #[test]
    fn matrix_dedups_and_unions() {
        let m = Matrix::new(
            vec!["a".into(), "b".into(), "a".into()],
            vec!["x".into(), "x".into()],
        );
        assert_eq!(m.len(), 2);
        let u = m.union(&Matrix::new(vec!["c".into(), "a".into()], vec!["y".into()]));
        assert_eq!(u.inputs, vec!["a", "b", "c"]);
        assert_eq!(u.algorithms, vec!["x", "y"]);
    }
}
