//! Inputs and outputs: input vectors from text files, certificates and pictures out.

mod input;

pub use input::{read_input, read_input_file, InputError, InputFile};
