//! The set-up script's decisions, on fake file systems: `install-build-deps.sh --dry-run` prints
//! the packages it would install. A fresh machine once shipped only `libclang-cpp.so.14`, which
//! the script took for libclang; bindgen cannot load it, and the build failed.

use std::path::{Path, PathBuf};
use std::process::Command;

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/install-build-deps.sh")
}

/// A directory of executables named `names` (empty shell scripts), for the PATH the script
/// searches.
fn fake_bin(dir: &Path, names: &[&str]) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for n in names {
        let p = bin.join(n);
        std::fs::write(&p, "#!/bin/sh\n").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
    }
    bin
}

fn touch(root: &Path, rel: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, b"").unwrap();
}

/// The packages the script would install with `root` as `/` and `bin` as PATH.
fn decide(root: &Path, bin: &Path, libclang_path: Option<&Path>) -> Vec<String> {
    let mut cmd = Command::new("bash");
    cmd.arg(script())
        .arg("--dry-run")
        .env("PPNN_DEPS_ROOT", root)
        .env("PPNN_DEPS_PATH", bin)
        .env_remove("LIBCLANG_PATH");
    if let Some(p) = libclang_path {
        cmd.env("LIBCLANG_PATH", p);
    }
    let o = cmd.output().unwrap();
    assert!(
        o.status.success(),
        "dry run failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout)
        .unwrap()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

#[test]
fn libclang_cpp_alone_is_not_libclang() {
    let d = tempfile::tempdir().unwrap();
    touch(d.path(), "usr/lib/x86_64-linux-gnu/libclang-cpp.so.14");
    touch(d.path(), "lib/x86_64-linux-gnu/libclang-cpp.so.14");
    touch(d.path(), "usr/lib/llvm-14/lib/libclang-cpp.so.14");
    let bin = fake_bin(d.path(), &["cmake", "c++"]);
    assert_eq!(decide(d.path(), &bin, None), ["libclang-dev"]);
}

#[test]
fn versioned_libclang_is_found_where_bindgen_looks() {
    for lib in [
        "usr/lib/llvm-14/lib/libclang.so.1",
        "usr/lib/llvm-16/lib/libclang-16.so",
        "usr/lib/x86_64-linux-gnu/libclang-14.so.1",
        "usr/lib/x86_64-linux-gnu/libclang.so",
    ] {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), lib);
        touch(d.path(), "usr/lib/x86_64-linux-gnu/libclang-cpp.so.14");
        let bin = fake_bin(d.path(), &["cmake", "g++"]);
        assert!(decide(d.path(), &bin, None).is_empty(), "{lib} not found");
    }
}

#[test]
fn nothing_present_installs_all_three() {
    let d = tempfile::tempdir().unwrap();
    let bin = fake_bin(d.path(), &[]);
    assert_eq!(
        decide(d.path(), &bin, None),
        ["cmake", "g++", "libclang-dev"]
    );
}

#[test]
fn any_cxx_compiler_counts() {
    for cxx in ["c++", "g++", "clang++"] {
        let d = tempfile::tempdir().unwrap();
        touch(d.path(), "usr/lib/llvm-14/lib/libclang.so.1");
        let bin = fake_bin(d.path(), &["cmake", cxx]);
        assert!(decide(d.path(), &bin, None).is_empty(), "{cxx} not seen");
    }
}

#[test]
fn libclang_path_is_respected() {
    let d = tempfile::tempdir().unwrap();
    // Nothing in the system directories, but LIBCLANG_PATH points at a libclang.
    touch(d.path(), "opt/llvm/lib/libclang.so");
    let bin = fake_bin(d.path(), &["cmake", "c++"]);
    assert!(decide(d.path(), &bin, Some(&d.path().join("opt/llvm/lib"))).is_empty());
    // LIBCLANG_PATH pointing at a directory without one is an error, not an install.
    let empty = d.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = Command::new("bash")
        .arg(script())
        .env("PPNN_DEPS_ROOT", d.path())
        .env("PPNN_DEPS_PATH", &bin)
        .env("LIBCLANG_PATH", &empty)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("LIBCLANG_PATH"), "{err}");
}

#[test]
fn unknown_option_is_refused() {
    let o = Command::new("bash")
        .arg(script())
        .arg("--bogus")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--bogus"));
}

#[test]
fn this_machine_needs_nothing_after_set_up() {
    // The test suite only builds once the set-up ran: a second run must find everything.
    let o = Command::new("bash")
        .arg(script())
        .arg("--dry-run")
        .output()
        .unwrap();
    assert!(o.status.success());
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "");
}

/// The test tools' installers decide from fake PATHs too: Slurm's daemons and client, and a
/// python3 with its venv module (Debian ships `venv` apart, as python3-venv).
fn dry(script: &str, root: &Path, bin: &Path) -> String {
    let o = Command::new("bash")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join(script))
        .arg("--dry-run")
        .env("PPNN_DEPS_ROOT", root)
        .env("PPNN_DEPS_PATH", bin)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}

#[test]
fn slurm_installer_finds_what_is_missing() {
    let d = tempfile::tempdir().unwrap();
    let bin = fake_bin(d.path(), &[]);
    assert_eq!(
        dry("scripts/slurm/install-slurm.sh", d.path(), &bin),
        "install-slurm: would install slurmctld slurmd slurm-client munge"
    );
    // munged in /usr/sbin (off a non-root PATH) counts; the others on the PATH.
    touch(d.path(), "usr/sbin/munged");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let p = d.path().join("usr/sbin/munged");
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let bin = fake_bin(d.path(), &["slurmctld", "slurmd", "sbatch"]);
    assert!(dry("scripts/slurm/install-slurm.sh", d.path(), &bin).contains("nothing to install"));
}

#[test]
fn python_installer_needs_python3_with_venv() {
    let d = tempfile::tempdir().unwrap();
    let none = fake_bin(d.path(), &[]);
    assert_eq!(
        dry("scripts/install-vnnlib-tools.sh", d.path(), &none),
        "python3 python3-venv"
    );
    // A python3 that cannot import venv (Debian's without python3-venv) is not enough.
    let broken = d.path().join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    let p = broken.join("python3");
    std::fs::write(&p, "#!/bin/sh\nexit 1\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    assert_eq!(
        dry("scripts/install-vnnlib-tools.sh", d.path(), &broken),
        "python3 python3-venv"
    );
    // One that imports it (an empty shell script exits 0).
    let ok = fake_bin(d.path(), &["python3"]);
    assert_eq!(dry("scripts/install-vnnlib-tools.sh", d.path(), &ok), "");
}
