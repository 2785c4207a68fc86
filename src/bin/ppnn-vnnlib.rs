//! `ppnn-vnnlib`: the VNN-LIB 2.0 standard solver command line. All logic lives in the library
//! (`parallelepipedonn::cli::vnnlib`, `parallelepipedonn::property`).

fn main() {
    parallelepipedonn::cli::restore_sigpipe();
    std::process::exit(parallelepipedonn::cli::vnnlib::run());
}
