//! `ppnn`: the command line of parallelepipedonn. All logic lives in the library.

fn main() {
    std::process::exit(parallelepipedonn::cli::run());
}
