//! Ground truth for testing other verifiers: benchmark suites whose answers are known for
//! certain, and a referee that grades a tool's answers on them.
//!
//! ppnn computes each input's exact minimal adversarial radius as a bracket `[r_lo, r_hi]`: a
//! proof below `r_lo`, a re-checked counterexample at `r_hi`. Boxes at factors of `r_lo` are
//! `unsat` (robust), boxes at factors of `r_hi` are `sat`, and boxes inside `(r_lo, r_hi)` are
//! never emitted — so a suite can sit as close to the decision boundary as one likes and still
//! carry a proof or a counterexample for every answer.
//!
//! - [`suite`]: making the instances from the brackets (the brackets come from
//!   [`crate::batch`] running `apothem`);
//! - [`vnnlib`]: the property files (VNN-LIB 1.0 and 2.0) and counterexample assignments;
//! - [`key`]: the answer key and the suite layout;
//! - [`hidden`]: the strong attack behind `--hidden`;
//! - [`score`]: grading another tool's results.

pub mod hidden;
pub mod key;
pub mod score;
pub mod suite;
pub mod vnnlib;

/// Errors of suite making and grading; each names the file or option at fault.
#[derive(Debug, thiserror::Error)]
pub enum GroundTruthError {
    /// A file or directory could not be read or written.
    #[error("'{path}': {source}")]
    Io {
        /// The path.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An option has a value that cannot be used.
    #[error("{option}: {problem}")]
    Option {
        /// The option.
        option: String,
        /// What is wrong.
        problem: String,
    },
    /// A suite directory is incomplete or malformed.
    #[error("suite file '{path}': {problem}")]
    Suite {
        /// The file.
        path: String,
        /// What is wrong.
        problem: String,
    },
    /// A results file or directory is malformed.
    #[error("results '{path}': {problem}")]
    Results {
        /// The file.
        path: String,
        /// What is wrong.
        problem: String,
    },
}
