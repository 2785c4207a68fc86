//! Exact reasoning: the network over a box as a mixed-integer linear program, solved by HiGHS.
//!
//! Three layers, kept apart as in MIPVerify.jl: [`encode`] turns a network and neuron bounds into
//! variables and big-M constraints; [`query`] adds the objective and rows of each question;
//! [`solver`] (one-shot solves) and [`lp`] (a persistent LP re-solved with changed bounds) are the
//! only code that talks to HiGHS, over the solver-free types of [`model`].

pub mod bab;
pub mod cuts;
pub mod encode;
mod explore;
mod facet;
pub mod leaflog;
pub mod lp;
pub mod model;
pub mod nodes;
pub mod pairs;
pub mod query;
pub mod safe;
pub mod solver;
pub mod tighten;
mod tree;
