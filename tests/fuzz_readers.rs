//! Fuzzing on stable Rust, in the test suite: thousands of mutations of valid VNN-LIB queries and
//! ONNX models (truncations, byte flips, swapped and duplicated tokens, huge and non-finite
//! numbers, 100,000-deep nesting, multi-gigabyte declared sizes) through the readers. Every
//! case must end in `Ok` or a typed error with a message — no panic, no stack overflow, no
//! hang (the whole run takes a few seconds in release).

use parallelepipedonn::network::{onnx::parse_onnx, parse_model};
use parallelepipedonn::property::parse_vnnlib;
use rand::{Rng, SeedableRng};

fn corpus_vnnlib() -> Vec<String> {
    let mut c = vec![
        "(declare-const X_0 Real)(declare-const X_1 Real)(declare-const Y_0 Real)(declare-const Y_1 Real)
(assert (<= X_0 0.5)) (assert (>= X_0 -0.5)) (assert (<= X_1 1e-3)) (assert (>= X_1 -.5))
(assert (or (and (>= Y_0 Y_1) (<= Y_0 3)) (and (<= (+ (* 2 Y_0) (- Y_1)) 1.5) (> Y_1 0))))"
            .to_string(),
        "(vnnlib-version <2.0>)
(declare-network N (declare-input X float32 [1,2]) (declare-hidden H float32 [2] \"h\") (declare-output Y float32 [2]))
(assert (and (<= 0 X[0,0] 1) (<= 0 X[0,1] 1)))
(assert (or (== Y[0] Y[1]) (!= Y[0] 0.5) (>= (* 0.5 (- X[0,0] X[0,1])) Y[1])))"
            .to_string(),
    ];
    let root = env!("CARGO_MANIFEST_DIR");
    for p in ["prop_2", "prop_4", "prop_6"] {
        let path = format!("{root}/data/vnncomp/acasxu_like/vnnlib/{p}.vnnlib.gz");
        use std::io::Read;
        let mut s = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
            .read_to_string(&mut s)
            .unwrap();
        c.push(s);
    }
    c
}

const NASTY: &[&str] = &[
    "1e999999",
    "-1e400",
    "inf",
    "-inf",
    "NaN",
    "nan",
    "99999999999999999999999999",
    "0x10",
    "1e",
    ".",
    "-",
    "X_99999999999",
    "X_18446744073709551616",
    "Y_-1",
    "X[99999999999]",
    "[4294967296,4294967296]",
    "[18446744073709551615]",
    "[0]",
    "[]",
    "(",
    ")",
    "\"",
    ";",
    "<2.0>",
    "declare-network",
    "assert",
    "or",
    "and",
    "*",
    "/",
    "(/ 1 0)",
    "(* X_0 X_0)",
];

fn tokens(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for ch in s.chars() {
        if ch == '(' || ch == ')' || ch.is_whitespace() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            out.push(ch.to_string());
        } else {
            cur.push(ch);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn mutate_text(rng: &mut impl Rng, s: &str) -> String {
    match rng.gen_range(0..7) {
        0 => {
            // Truncation.
            let cut = rng.gen_range(0..=s.len());
            String::from_utf8_lossy(&s.as_bytes()[..cut]).to_string()
        }
        1 => {
            // Byte flips.
            let mut b = s.as_bytes().to_vec();
            for _ in 0..rng.gen_range(1..8) {
                if b.is_empty() {
                    break;
                }
                let i = rng.gen_range(0..b.len());
                b[i] ^= 1 << rng.gen_range(0..8);
            }
            String::from_utf8_lossy(&b).to_string()
        }
        2 | 3 => {
            // Token swap, duplication, deletion, replacement by a nasty token.
            let mut t = tokens(s);
            for _ in 0..rng.gen_range(1..5) {
                if t.is_empty() {
                    break;
                }
                let i = rng.gen_range(0..t.len());
                let j = rng.gen_range(0..t.len());
                match rng.gen_range(0..4) {
                    0 => t.swap(i, j),
                    1 => {
                        let x = t[i].clone();
                        t.insert(j, x)
                    }
                    2 => {
                        t.remove(i);
                    }
                    _ => t[i] = NASTY[rng.gen_range(0..NASTY.len())].to_string(),
                }
            }
            t.concat()
        }
        4 => {
            // Deep nesting, closed or not.
            let n = 100_000;
            let mut d = "(assert ".to_string() + &"(and ".repeat(n) + "(<= X_0 1)";
            if rng.gen_bool(0.5) {
                d += &")".repeat(n + 1);
            }
            format!("{s}\n{d}")
        }
        5 => {
            // Multi-gigabyte declared sizes.
            let dims = [
                "[4294967296,4294967296]",
                "[268435456]",
                "[65536,65536]",
                "[1,2]",
            ];
            s.replace("[1,2]", dims[rng.gen_range(0..dims.len())])
                .replace("[2]", dims[rng.gen_range(0..dims.len())])
        }
        _ => {
            // Numbers replaced by huge or non-finite ones.
            let t: Vec<String> = tokens(s)
                .into_iter()
                .map(|tok| {
                    if tok.starts_with(|c: char| c.is_ascii_digit()) && rng.gen_bool(0.3) {
                        [
                            "1e999",
                            "-1e999",
                            "1e308",
                            "4.9e-324",
                            "123456789012345678901234567890",
                        ][rng.gen_range(0..5)]
                        .to_string()
                    } else {
                        tok
                    }
                })
                .collect();
            t.concat()
        }
    }
}

#[test]
fn vnnlib_reader_survives_mutations() {
    let corpus = corpus_vnnlib();
    let mut rng = rand::rngs::StdRng::seed_from_u64(2026);
    let (mut ok, mut rejected) = (0, 0);
    for case in 0..4000 {
        let base = &corpus[case % corpus.len()];
        let mut text = mutate_text(&mut rng, base);
        if rng.gen_bool(0.3) {
            text = mutate_text(&mut rng, &text);
        }
        match parse_vnnlib(&text, "fuzz.vnnlib") {
            Ok(q) => {
                // Normalise too, at the declared sizes (bounded like a network would be).
                let (n_in, n_out) = (q.input_size(), q.output_size());
                if n_in <= 1 << 16 && n_out <= 1 << 16 {
                    match q.property(n_in, n_out) {
                        Ok(_) => ok += 1,
                        Err(e) => {
                            assert!(!e.to_string().is_empty());
                            rejected += 1
                        }
                    }
                } else {
                    rejected += 1;
                }
            }
            Err(e) => {
                let m = e.to_string();
                assert!(
                    m.contains("fuzz.vnnlib"),
                    "message does not name the file: {m}"
                );
                rejected += 1;
            }
        }
    }
    eprintln!("vnnlib fuzz: {ok} accepted, {rejected} rejected with a message");
    assert!(
        ok > 100 && rejected > 1000,
        "{ok} accepted, {rejected} rejected"
    );
}

fn mutate_bytes(rng: &mut impl Rng, b: &[u8]) -> Vec<u8> {
    let mut b = b.to_vec();
    if b.is_empty() {
        return b;
    }
    match rng.gen_range(0..5) {
        0 => {
            let cut = rng.gen_range(0..=b.len());
            b.truncate(cut);
        }
        1 => {
            for _ in 0..rng.gen_range(1..16) {
                let i = rng.gen_range(0..b.len());
                b[i] ^= 1 << rng.gen_range(0..8);
            }
        }
        2 => {
            // Overwrite a few bytes with 0xff runs: huge varints (lengths, dims, counts).
            for _ in 0..rng.gen_range(1..4) {
                let i = rng.gen_range(0..b.len());
                let n = rng.gen_range(1..10).min(b.len() - i);
                b[i..i + n].iter_mut().for_each(|v| *v = 0xff);
            }
        }
        3 => {
            // Duplicate or drop a chunk.
            let i = rng.gen_range(0..b.len());
            let n = rng.gen_range(1..64).min(b.len() - i);
            let chunk: Vec<u8> = b[i..i + n].to_vec();
            if rng.gen_bool(0.5) {
                b.splice(i..i, chunk);
            } else {
                b.drain(i..i + n);
            }
        }
        _ => {
            let i = rng.gen_range(0..b.len());
            b[i] = rng.gen();
        }
    }
    b
}

#[test]
fn onnx_importer_survives_mutations() {
    let root = env!("CARGO_MANIFEST_DIR");
    let corpus: Vec<Vec<u8>> = [
        "data/vnncomp/acasxu_like/onnx/acasxu-like-5-16-16-5.onnx",
        "data/networks/mnist-784-32-10.onnx",
    ]
    .iter()
    .map(|p| std::fs::read(format!("{root}/{p}")).unwrap())
    .collect();
    let mut rng = rand::rngs::StdRng::seed_from_u64(13);
    let (mut ok, mut rejected) = (0, 0);
    for case in 0..2000 {
        // The big model less often: it is 100 times larger.
        let base = &corpus[if case % 10 == 0 { 1 } else { 0 }];
        let mut b = mutate_bytes(&mut rng, base);
        if rng.gen_bool(0.3) {
            b = mutate_bytes(&mut rng, &b);
        }
        for r in [
            parse_model(&b, "fuzz.onnx").map(|_| ()),
            parse_onnx(&b, "fuzz.onnx").map(|_| ()),
        ] {
            match r {
                Ok(()) => ok += 1,
                Err(e) => {
                    let m = e.to_string();
                    assert!(
                        m.contains("fuzz.onnx"),
                        "message does not name the file: {m}"
                    );
                    rejected += 1;
                }
            }
        }
    }
    eprintln!("onnx fuzz: {ok} accepted, {rejected} rejected with a message");
    assert!(rejected > 500, "{ok} accepted, {rejected} rejected");
}

mod common;

/// Declared sizes far beyond memory are refused by their numbers, before any allocation.
#[test]
fn multi_gigabyte_declared_sizes_are_refused() {
    use common::*;
    let huge = model(
        &[Some(4_294_967_296), Some(4_294_967_296)],
        vec![node("Relu", &["input"], "y")],
        vec![],
        "y",
        13,
    );
    let e = parse_model(&huge, "huge.onnx").unwrap_err().to_string();
    assert!(e.contains("huge.onnx") && e.contains("more than"), "{e}");
    let w = int_tensor("w", &[1 << 31, 1 << 31], &[]);
    let with_init = model(
        &[None, Some(2)],
        vec![node("MatMul", &["input", "w"], "y")],
        vec![w],
        "y",
        13,
    );
    let e = parse_model(&with_init, "init.onnx")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("init.onnx") && e.contains("'w' declares shape") && e.contains("more than"),
        "{e}"
    );
}
