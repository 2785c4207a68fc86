//! # parallelepipedonn
//!
//! Trustworthy robustness certifications for ReLU classifiers: axis-aligned boxes around an input
//! on which the classification provably cannot change, decided exactly by mixed-integer linear
//! programming (HiGHS), with cheap checks (concrete evaluation, bounds, attacks) first.
//!
//! ```no_run
//! use parallelepipedonn::{load_onnx, Hyperbox, MilpOracle, Oracle, OracleSettings, Question};
//!
//! let net = load_onnx("data/networks/mnist-784-32-10.onnx")?;
//! let x = parallelepipedonn::io::read_input("data/inputs/mnist/7-1.csv", net.input_size())?;
//! let class = net.classify(&x).expect("a unique class");
//! let domain = Hyperbox::unit(net.input_size());
//! let oracle = MilpOracle::new(&net, domain.clone(), OracleSettings::default());
//! let ball = Hyperbox::ball(&x, 0.01, &domain);
//! let verdict = oracle.decide(&Question::Sound { region: &ball, class });
//! println!("{}", verdict.name());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![warn(missing_docs)]

pub mod attack;
pub mod batch;
pub mod bounds;
pub mod certificate;
pub mod certify;
pub mod check;
pub mod cli;
pub mod groundtruth;
pub mod io;
pub mod milp;
pub mod network;
pub mod oracle;
pub mod proof;
pub mod property;
pub mod region;
pub mod summary;

pub use network::{load_onnx, Layer, Network};
pub use oracle::{
    Method, MilpOracle, Oracle, OracleSettings, OracleStats, Question, Verdict, Witness,
};
pub use region::Hyperbox;
