//! Reading input files whole, `.gz` or not, with a size limit.

use std::io::Read;
use std::path::Path;

/// The bytes of `path`, decompressed when its name ends in `.gz`, reading at most `limit + 1`
/// bytes: `Ok(None)` when there are more than `limit` (a decompression bomb, or a file too
/// large to hold), so that callers report it in their own error type.
pub fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    if path.to_string_lossy().ends_with(".gz") {
        flate2::read::MultiGzDecoder::new(file)
            .take(limit + 1)
            .read_to_end(&mut bytes)?;
    } else {
        file.take(limit + 1).read_to_end(&mut bytes)?;
    }
    Ok((bytes.len() as u64 <= limit).then_some(bytes))
}
