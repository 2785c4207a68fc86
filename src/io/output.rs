//! Output files: lb/ub in the input's own layout, certificate JSON, greyscale pictures.
//!
//! Every file is written to a temporary name and renamed into place, and a set of files is
//! rendered completely in memory first, so that a failure never leaves partial output.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Why an output could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// Filesystem error.
    #[error("cannot write '{path}': {source}")]
    Io {
        /// The file or directory.
        path: String,
        /// The underlying error.
        source: std::io::Error,
    },
    /// PNG encoding failed.
    #[error("cannot encode picture '{path}': {message}")]
    Png {
        /// The file.
        path: String,
        /// What failed.
        message: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Formats values in rows of the given lengths (one row when the layout does not fit).
pub fn format_rows(values: &[f64], layout: &[usize]) -> String {
    let rows: Vec<usize> = if layout.iter().sum::<usize>() == values.len() && !layout.is_empty() {
        layout.to_vec()
    } else {
        vec![values.len()]
    };
    let mut out = String::new();
    let mut it = values.iter();
    for n in rows {
        let line: Vec<String> = it.by_ref().take(n).map(|v| format!("{v:?}")).collect();
        out.push_str(&line.join(" "));
        out.push('\n');
    }
    out
}

/// The picture shape `(height, width)` of an input layout, when it is an image (several rows of
/// equal length).
pub fn image_shape(layout: &[usize]) -> Option<(usize, usize)> {
    let w = *layout.first()?;
    (layout.len() > 1 && w > 1 && layout.iter().all(|&n| n == w)).then_some((layout.len(), w))
}

/// Encodes values as an enlarged greyscale PNG: `lo` maps to black and `hi` to white.
pub fn png_bytes(
    values: &[f64],
    shape: (usize, usize),
    lo: f64,
    hi: f64,
    name: &str,
) -> Result<Vec<u8>, OutputError> {
    let (h, w) = shape;
    let scale = (280 / h.max(w)).max(1);
    let (ph, pw) = (h * scale, w * scale);
    let mut pixels = vec![0u8; ph * pw];
    let span = if hi > lo { hi - lo } else { 1.0 };
    for y in 0..ph {
        for x in 0..pw {
            let v = values[(y / scale) * w + x / scale];
            pixels[y * pw + x] = (((v - lo) / span).clamp(0.0, 1.0) * 255.0).round() as u8;
        }
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, pw as u32, ph as u32);
        enc.set_color(png::ColorType::Grayscale);
        enc.set_depth(png::BitDepth::Eight);
        let err = |e: png::EncodingError| OutputError::Png {
            path: name.to_string(),
            message: e.to_string(),
        };
        let mut writer = enc.write_header().map_err(err)?;
        writer.write_image_data(&pixels).map_err(err)?;
    }
    Ok(out)
}

/// Writes a set of files into `dir` (created if missing) all-or-nothing as far as the
/// filesystem allows: every file goes to a temporary name first; only when all are written are
/// they renamed into place.
pub fn write_files(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<Vec<PathBuf>, OutputError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let mut temps = Vec::new();
    for (name, bytes) in files {
        let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
        let result = std::fs::File::create(&tmp)
            .and_then(|mut f| f.write_all(bytes).and_then(|_| f.sync_all()));
        if let Err(e) = result {
            for (t, _) in &temps {
                let _ = std::fs::remove_file(t);
            }
            let _ = std::fs::remove_file(&tmp);
            return Err(io_err(&tmp)(e));
        }
        temps.push((tmp, dir.join(name)));
    }
    let mut done = Vec::new();
    for (tmp, path) in temps {
        std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
        done.push(path);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_images() {
        assert_eq!(
            format_rows(&[1.0, 0.5, 0.25, 0.0], &[2, 2]),
            "1.0 0.5\n0.25 0.0\n"
        );
        assert_eq!(format_rows(&[1.0, 2.0], &[3]), "1.0 2.0\n");
        assert_eq!(image_shape(&[28; 28]), Some((28, 28)));
        assert_eq!(image_shape(&[784]), None);
        let png = png_bytes(&[0.0, 1.0, 0.5, 0.25], (2, 2), 0.0, 1.0, "t").unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }

    #[test]
    fn files_land_together() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("sub");
        let paths = write_files(
            &out,
            &[
                ("a.txt".to_string(), b"1".to_vec()),
                ("b.txt".to_string(), b"2".to_vec()),
            ],
        )
        .unwrap();
        assert_eq!(paths.len(), 2);
        assert_eq!(std::fs::read(out.join("b.txt")).unwrap(), b"2");
        assert_eq!(std::fs::read_dir(&out).unwrap().count(), 2);
    }
}
