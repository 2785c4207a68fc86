//! The results file of a run: durable appends, and what a resumed run finds in it.
//!
//! Each line is written whole, flushed and synced before the next pair is reported, so a run
//! killed at any moment (even `kill -9`) loses at most the pairs in flight; a torn last line
//! (a write cut short) is detected on the next run, reported and cut off. A file resumed with
//! other settings is refused, so that one file never mixes answers to different questions.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::settings::{self, Header, RunSettings};
use super::shard::{Matrix, Shard};
use super::{io, read_results, BatchError};

/// (input, algorithm) pairs already recorded.
pub type DonePairs = HashSet<(String, String)>;

/// The (input, algorithm) pairs already in a results file. A torn last line is cut off the
/// file (so that appending continues on a fresh line); malformed lines are reported.
pub fn load_done(path: &Path) -> Result<(DonePairs, Vec<String>), BatchError> {
    let mut done = HashSet::new();
    let mut warnings = Vec::new();
    if !path.exists() {
        return Ok((done, warnings));
    }
    let bytes = std::fs::read(path).map_err(io(path))?;
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None => 0,
    };
    if complete < bytes.len() {
        warnings.push(format!(
            "'{}': the last line is torn (an interrupted write); it is dropped and its pair runs again",
            path.display()
        ));
        let f = OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(io(path))?;
        f.set_len(complete as u64).map_err(io(path))?;
        f.sync_all().map_err(io(path))?;
    }
    let text = String::from_utf8_lossy(&bytes[..complete]);
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) => {
                if let (Some(i), Some(a)) = (v["input"].as_str(), v["algorithm"].as_str()) {
                    done.insert((i.to_string(), a.to_string()));
                }
            }
            Err(_) => warnings.push(format!(
                "'{}' line {}: malformed, ignored",
                path.display(),
                n + 1
            )),
        }
    }
    Ok((done, warnings))
}

/// Appends whole lines, flushed and synced one by one.
pub struct Appender {
    file: Mutex<File>,
    path: PathBuf,
    /// Settings recorded in every result line (`"settings"`).
    stamp: Option<serde_json::Value>,
}

impl Appender {
    /// Opens (creating) `path` for appending.
    pub fn open(path: &Path) -> Result<Self, BatchError> {
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io(path))?;
        Ok(Appender {
            file: Mutex::new(file),
            path: path.to_path_buf(),
            stamp: None,
        })
    }

    /// Opens (creating) `path` for appending result lines that record `settings`.
    pub fn open_stamped(path: &Path, settings: &RunSettings) -> Result<Self, BatchError> {
        Ok(Appender {
            stamp: Some(settings.to_json()),
            ..Appender::open(path)?
        })
    }

    /// Appends one JSON line durably (with the settings, when stamped).
    pub fn append(&self, v: &serde_json::Value) -> Result<(), BatchError> {
        match &self.stamp {
            Some(s) if v.is_object() && v.get(settings::HEADER_KEY).is_none() => {
                let mut v = v.clone();
                v["settings"] = s.clone();
                self.append_raw(&v)
            }
            _ => self.append_raw(v),
        }
    }

    fn append_raw(&self, v: &serde_json::Value) -> Result<(), BatchError> {
        let mut line = v.to_string();
        line.push('\n');
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        f.write_all(line.as_bytes())
            .and_then(|_| f.flush())
            .and_then(|_| f.sync_data())
            .map_err(io(&self.path))
    }
}

/// A results file opened to run (or resume) a matrix or one of its shards.
pub struct Resumed {
    /// Appends this run's result lines, stamped with its settings.
    pub appender: Appender,
    /// Pairs already recorded (skipped by the run).
    pub done: DonePairs,
    /// Torn or malformed lines dropped, lines of an older ppnn accepted unchecked.
    pub warnings: Vec<String>,
}

/// Opens `path` for a run with `settings` over `matrix` (as `shard`, if any): reads what is
/// already recorded (cutting off a torn last line), refuses a file holding results of other
/// settings, and writes a header line when the file is new or was last run over another matrix
/// or shard. Lines written before lines carried settings are taken as done, with a warning.
pub fn open_results(
    path: &Path,
    settings: &RunSettings,
    matrix: &Matrix,
    shard: Option<Shard>,
) -> Result<Resumed, BatchError> {
    let (done, mut warnings) = load_done(path)?;
    let mine = settings.to_json();
    let mut last_header = None;
    if path.exists() {
        let file = read_results(path)?;
        let recorded = file
            .headers
            .iter()
            .map(|h| (&h.settings, "header".to_string()))
            .chain(
                file.records
                    .iter()
                    .filter_map(|(n, v)| v.get("settings").map(|s| (s, format!("line {n}")))),
            );
        for (s, at) in recorded {
            let diff = settings::differences(s, &mine);
            if !diff.is_empty() {
                return Err(BatchError::ResumeMismatch {
                    path: path.display().to_string(),
                    at,
                    differences: diff.join(", "),
                });
            }
        }
        if file
            .records
            .iter()
            .any(|(_, v)| v.get("settings").is_none())
        {
            warnings.push(format!(
                "'{}' has lines without recorded settings (an older ppnn): they are taken as done unchecked",
                path.display()
            ));
        }
        last_header = file.headers.last().cloned();
    }
    let appender = Appender::open_stamped(path, settings)?;
    let header = Header::new(settings, matrix.clone(), shard);
    if last_header.is_none_or(|h| h.matrix != header.matrix || h.shard != header.shard) {
        appender.append_raw(&header.to_json())?;
    }
    Ok(Resumed {
        appender,
        done,
        warnings,
    })
}
