//! Checks on the repository's own text files.
//!
//! A merge once left conflict markers in the README on main; nothing that compiles noticed.
//! This test reads every file git tracks (text ones) and refuses such markers.

use std::path::Path;
use std::process::Command;

#[test]
fn no_tracked_file_holds_merge_conflict_markers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let listed = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(root)
        .output();
    // Outside a git checkout (a source tarball) there is nothing to list.
    let Ok(listed) = listed else { return };
    if !listed.status.success() {
        return;
    }
    let mut offenders = Vec::new();
    for name in listed.stdout.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        let name = String::from_utf8_lossy(name).into_owned();
        let Ok(text) = std::fs::read_to_string(root.join(&name)) else {
            continue; // binary or vanished
        };
        for (i, line) in text.lines().enumerate() {
            let marker = line.starts_with("<<<<<<< ")
                || line.starts_with(">>>>>>> ")
                || (line == "=======" && text.contains("\n<<<<<<< "));
            if marker {
                offenders.push(format!("{name}:{}: {line}", i + 1));
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "merge conflict markers:\n{}",
        offenders.join("\n")
    );
}
