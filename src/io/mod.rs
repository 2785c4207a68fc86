//! Inputs and outputs: input vectors from text files, certificates and pictures out.

pub mod chart;
mod file;
mod input;
pub mod output;
pub mod plot;

pub use file::read_bounded;
pub use input::{parse_input, read_input, read_input_file, InputError, InputFile};
pub use output::{format_rows, image_shape, png_bytes, write_files, OutputError};
