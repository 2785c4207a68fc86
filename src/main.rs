//! `ppnn`: the command line of parallelepipedonn. All logic lives in the library.

fn main() {
    parallelepipedonn::cli::restore_sigpipe();
    std::process::exit(parallelepipedonn::cli::run());
}
