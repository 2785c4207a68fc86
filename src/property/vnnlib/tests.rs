//! The reader on every construct of both dialects and on every malformed form.

use super::*;
use crate::property::Property;

fn v1(n_in: usize, n_out: usize, body: &str) -> String {
    let mut s = String::new();
    for i in 0..n_in {
        s += &format!("(declare-const X_{i} Real)\n");
    }
    for j in 0..n_out {
        s += &format!("(declare-const Y_{j} Real)\n");
    }
    s + body
}

fn prop(text: &str, n_in: usize, n_out: usize) -> Property {
    parse_vnnlib(text, "t.vnnlib")
        .expect("the query parses")
        .property(n_in, n_out)
        .expect("the property is built")
}

fn err(text: &str) -> String {
    parse_vnnlib(text, "t.vnnlib").unwrap_err().to_string()
}

fn prop_err(text: &str, n_in: usize, n_out: usize) -> String {
    parse_vnnlib(text, "t.vnnlib")
        .expect("the query parses")
        .property(n_in, n_out)
        .unwrap_err()
        .to_string()
}

#[test]
fn v1_box_and_output_atoms() {
    let t = v1(
        2,
        3,
        "; a comment\n(assert (<= X_0 0.5))\n(assert (>= X_0 -0.5))\n(assert (<= X_1 1e-3))\n(assert (>= X_1 -.5))\n(assert (<= Y_0 Y_1))\n(assert (>= Y_2 2))\n(check-sat)",
    );
    let q = parse_vnnlib(&t, "t").expect("the query parses");
    assert_eq!(q.dialect, Dialect::V1);
    let p = q.property(2, 3).expect("the property is built");
    assert_eq!(p.disjuncts.len(), 1);
    let d = &p.disjuncts[0];
    assert_eq!(d.region.lb(), &[-0.5, -0.5]);
    assert_eq!(d.region.ub(), &[0.5, 1e-3]);
    let rows: Vec<_> = d.rows().collect();
    assert_eq!(rows.len(), 2);
    // Y_0 - Y_1 <= 0 and 2 - Y_2 <= 0.
    assert_eq!(rows[0].y, vec![(0, 1.0), (1, -1.0)]);
    assert_eq!(
        (rows[1].y.clone(), rows[1].constant),
        (vec![(2, -1.0)], 2.0)
    );
    assert!(d.holds(&[0.0, 0.0], &[0.0, 1.0, 2.0]));
    assert!(!d.holds(&[0.0, 0.0], &[1.5, 1.0, 2.0]));
}

#[test]
fn v1_output_disjunction_of_conjunctions() {
    // The VNN-COMP robustness shape: some other class reaches the label's logit.
    let t = v1(
        1,
        3,
        "(assert (<= X_0 1))(assert (>= X_0 0))\n(assert (or (and (>= Y_1 Y_0)) (and (>= Y_2 Y_0) (<= Y_2 5))))",
    );
    let p = prop(&t, 1, 3);
    assert_eq!(p.disjuncts.len(), 2);
    assert_eq!(p.disjuncts[1].rows().count(), 2);
    assert_eq!(p.satisfied_by(&[0.5], &[1.0, 0.0, 2.0]), Some(1));
    assert_eq!(p.satisfied_by(&[0.5], &[1.0, 0.0, 6.0]), None);
}

#[test]
fn v1_input_disjunction_like_acas_xu_property_6() {
    let t = v1(
        2,
        2,
        "(assert (or (and (>= X_0 -0.3) (<= X_0 -0.1) (>= X_1 0) (<= X_1 1))\n            (and (>= X_0 0.1) (<= X_0 0.3) (>= X_1 0) (<= X_1 1))))\n(assert (<= Y_1 Y_0))",
    );
    let p = prop(&t, 2, 2);
    assert_eq!(p.disjuncts.len(), 2);
    assert_eq!(p.disjuncts[0].region.ub()[0], -0.1);
    assert_eq!(p.disjuncts[1].region.lb()[0], 0.1);
    let h = p.hull().expect("the property has a hull");
    assert_eq!((h.lb()[0], h.ub()[0]), (-0.3, 0.3));
}

#[test]
fn v1_linear_output_constraints_and_arithmetic() {
    let t = v1(
        1,
        2,
        "(assert (<= X_0 1)) (assert (>= X_0 0))\n(assert (<= (+ (* 2 Y_0) (* -1.5 Y_1) (- 3) Y_0) (- Y_1 1)))",
    );
    let p = prop(&t, 1, 2);
    let r: Vec<_> = p.disjuncts[0].rows().collect();
    // 3 Y_0 - 2.5 Y_1 - 3 + 1 <= 0
    assert_eq!(r[0].y, vec![(0, 3.0), (1, -2.5)]);
    assert_eq!(r[0].constant, -2.0);
}

#[test]
fn numbers_in_every_float_syntax() {
    for (lex, v) in [
        ("1e-3", 1e-3),
        ("-0.5", -0.5),
        (".5", 0.5),
        ("+2.", 2.0),
        ("3E+2", 300.0),
        ("-.25e1", -2.5),
        ("7", 7.0),
    ] {
        let t = v1(
            1,
            1,
            &format!("(assert (<= X_0 {lex}))(assert (>= X_0 -100))(assert (>= Y_0 0))"),
        );
        assert_eq!(prop(&t, 1, 1).disjuncts[0].region.ub()[0], v, "{lex}");
    }
    let t = v1(
        1,
        1,
        "(assert (<= X_0   1.000e-3))(assert (>= X_0 -0))(assert (>= Y_0 0))",
    );
    let q = parse_vnnlib(&t, "t").expect("the query parses");
    let Formula::Atom(a) = &q.assertions[0] else {
        panic!()
    };
    assert_eq!(a.text, "(<= X_0 1.000e-3)");
    for bad in ["1e", "1.2.3", "--1", "1e5x", ".", "-", "inf", "NaN"] {
        let t = v1(1, 1, &format!("(assert (<= X_0 {bad}))"));
        let e = err(&t);
        assert!(
            e.contains("t.vnnlib:")
                && (e.contains("not a number") || e.contains("unknown variable")),
            "{bad}: {e}"
        );
    }
    let t = v1(1, 1, "(assert (<= X_0 1e999))");
    assert!(err(&t).contains("outside the range"));
}

#[test]
fn nnv_pr_319_strict_greater_on_an_input_sets_the_lower_bound() {
    let t = v1(
        1,
        1,
        "(assert (> X_0 0.25))(assert (< X_0 0.75))(assert (>= Y_0 0))",
    );
    let p = prop(&t, 1, 1);
    let d = &p.disjuncts[0];
    assert_eq!((d.region.lb()[0], d.region.ub()[0]), (0.25, 0.75));
    // The strict bounds are still checked exactly.
    assert!(!d.holds(&[0.25], &[1.0]));
    assert!(d.holds(&[0.5], &[1.0]));
}

#[test]
fn nnv_pr_319_a_conjunct_before_an_or_in_the_same_assert_is_kept() {
    let t = v1(
        1,
        2,
        "(assert (and (>= X_0 0) (<= X_0 1) (>= Y_0 3) (or (>= Y_1 1) (<= Y_1 -1))))",
    );
    let p = prop(&t, 1, 2);
    assert_eq!(p.disjuncts.len(), 2);
    for d in &p.disjuncts {
        assert!(d
            .rows()
            .any(|c| c.y == vec![(0, -1.0)] && c.constant == 3.0));
        assert_eq!(d.region.ub()[0], 1.0);
    }
    assert_eq!(p.satisfied_by(&[0.5], &[0.0, 2.0]), None);
    assert_eq!(p.satisfied_by(&[0.5], &[3.0, 2.0]), Some(0));
}

#[test]
fn nnv_pr_319_bounds_inside_one_disjunct_do_not_leak() {
    let t = v1(
        1,
        1,
        "(assert (or (and (>= X_0 0) (<= X_0 0.1)) (and (>= X_0 0.9) (<= X_0 1) (<= Y_0 5))))",
    );
    let p = prop(&t, 1, 1);
    assert_eq!(p.disjuncts.len(), 2);
    assert_eq!(
        (p.disjuncts[0].region.lb()[0], p.disjuncts[0].region.ub()[0]),
        (0.0, 0.1)
    );
    assert_eq!(
        (p.disjuncts[1].region.lb()[0], p.disjuncts[1].region.ub()[0]),
        (0.9, 1.0)
    );
    assert_eq!(p.disjuncts[0].rows().count(), 0);
    assert_eq!(p.disjuncts[1].rows().count(), 1);
}

#[test]
fn several_asserts_are_conjoined_and_equalities_split() {
    let t = v1(1, 1, "(assert (= X_0 0.5))(assert (== Y_0 1))");
    let p = prop(&t, 1, 1);
    let d = &p.disjuncts[0];
    assert_eq!((d.region.lb()[0], d.region.ub()[0]), (0.5, 0.5));
    assert!(d.holds(&[0.5], &[1.0]));
    assert!(!d.holds(&[0.5], &[1.5]));
    // != is two strict disjuncts.
    let t = v1(
        1,
        1,
        "(assert (<= X_0 1))(assert (>= X_0 0))(assert (!= Y_0 1))",
    );
    let p = prop(&t, 1, 1);
    assert_eq!(p.disjuncts.len(), 2);
    assert_eq!(p.satisfied_by(&[0.5], &[1.0]), None);
    assert!(p.satisfied_by(&[0.5], &[1.5]).is_some());
}

#[test]
fn chains_and_constant_comparisons() {
    let t = v1(
        1,
        1,
        "(assert (<= 0 X_0 1))(assert (<= 1 2))(assert (>= Y_0 0))",
    );
    let p = prop(&t, 1, 1);
    assert_eq!(
        (p.disjuncts[0].region.lb()[0], p.disjuncts[0].region.ub()[0]),
        (0.0, 1.0)
    );
    let t = v1(
        1,
        1,
        "(assert (<= 0 X_0 1))(assert (or (<= 2 1) (>= Y_0 0)))",
    );
    assert_eq!(prop(&t, 1, 1).disjuncts.len(), 1);
    // An empty disjunct (lb > ub) disappears; all empty: nothing satisfies the property.
    let t = v1(1, 1, "(assert (<= 1 X_0 0))(assert (>= Y_0 0))");
    assert!(prop(&t, 1, 1).disjuncts.is_empty());
}

#[test]
fn scaled_bounds_are_rounded_outward() {
    let t = v1(
        1,
        1,
        "(assert (<= (* 3 X_0) 1))(assert (>= (* 3 X_0) -1))(assert (>= Y_0 0))",
    );
    let p = prop(&t, 1, 1);
    let r = &p.disjuncts[0].region;
    assert!(r.ub()[0] >= 1.0 / 3.0 && r.ub()[0] <= (1.0f64 / 3.0).next_up());
    assert!(r.lb()[0] <= -1.0 / 3.0);
}

const V2: &str = "(vnnlib-version <2.0>)
(declare-network N
    (declare-input X float32 [2, 3])
    (declare-output Y float32 [2])
)
";

#[test]
fn v2_tensors_indexing_and_theories() {
    let mut t = V2.to_string();
    for i in 0..2 {
        for j in 0..3 {
            t += &format!("(assert (>= X[{i},{j}] 0.0))(assert (<= X[{i}, {j}] 1.0))\n");
        }
    }
    t += "(assert (>= (+ (* 0.5 X[0,0]) (* 0.75 X[1,2])) 0.25))\n(assert (or (> Y[0] Y[1]) (< Y[1] -1)))";
    let q = parse_vnnlib(&t, "q").expect("the query parses");
    assert_eq!(q.dialect, Dialect::V2);
    assert_eq!(q.variables[0].shape, vec![2, 3]);
    assert_eq!(q.input_size(), 6);
    let p = q.property(6, 2).expect("the property is built");
    assert_eq!(p.disjuncts.len(), 2);
    let rows: Vec<_> = p.disjuncts[0].rows().collect();
    // 0.25 - 0.5 x0 - 0.75 x5 <= 0: a linear input constraint on C-order indices 0 and 5.
    assert_eq!(rows[0].x, vec![(0, -0.5), (5, -0.75)]);
    assert!(rows[1].strict);
}

#[test]
fn v2_several_inputs_and_outputs_are_laid_out_in_declaration_order() {
    let t = "(vnnlib-version <2.0>)
(declare-network N (declare-input A float32 [1]) (declare-input B float32 [2]) (declare-output Y1 float32 [1]) (declare-output Y2 float32 [1]))
(assert (<= 0 A[0] 1)) (assert (<= 0 B[0] 1)) (assert (<= 0 B[1] 1))
(assert (>= Y2[0] B[1]))";
    let p = prop(t, 3, 2);
    let r: Vec<_> = p.disjuncts[0].rows().collect();
    assert_eq!(r[0].x, vec![(2, 1.0)]);
    assert_eq!(r[0].y, vec![(1, -1.0)]);
}

#[test]
fn v2_hidden_nodes_parse_but_are_refused_when_used() {
    let t = "(vnnlib-version <2.0>)
(declare-network N (declare-input X float32 [1]) (declare-hidden H float32 [1] \"h\") (declare-output Y float32 [1]))
(assert (<= 0 X[0] 1)) (assert (<= H[0] 3))";
    let q = parse_vnnlib(t, "q").expect("the query parses");
    assert_eq!(q.variables[1].onnx_name.as_deref(), Some("h"));
    assert!(prop_err(t, 1, 1).contains("hidden-node theory H"));
}

#[test]
fn v2_several_networks_are_refused_clearly() {
    let t = "(vnnlib-version <2.0>)
(declare-network N (declare-input X float32 [1]) (declare-output Y float32 [1]))
(declare-network M (equal-to N) (declare-input X2 float32 [1]) (declare-output Y2 float32 [1]))
(assert (<= 0 X[0] 1))";
    let q = parse_vnnlib(t, "q").expect("the query parses");
    assert_eq!(q.networks[1].equal_to.as_deref(), Some("N"));
    assert!(prop_err(t, 2, 2).contains("one network per query"));
}

#[test]
fn non_linear_terms_are_refused_never_approximated() {
    let t = format!("{V2}(assert (>= (* X[0,0] X[0,1]) 4.5))");
    let e = err(&t);
    assert!(e.contains("POLY") && e.contains("line 6"), "{e}");
    let t = format!("{V2}(assert (>= (/ X[0,0] X[0,1]) 4.5))");
    assert!(err(&t).contains("division"));
    let t = format!("{V2}(assert (not (>= X[0,0] 4.5)))");
    assert!(err(&t).contains("'not' is not supported"));
}

#[test]
fn unbounded_inputs_and_size_mismatches_are_refused() {
    let t = v1(
        2,
        1,
        "(assert (<= X_0 1))(assert (>= X_0 0))(assert (<= X_1 1))(assert (>= Y_0 0))",
    );
    let e = prop_err(&t, 2, 1);
    assert!(e.contains("X_1 has no lower bound"), "{e}");
    let t = v1(1, 1, "(assert (<= 0 X_0 1))");
    assert!(
        prop_err(&t, 3, 1).contains("1 input and 1 output elements but the network has 3 inputs")
    );
}

#[test]
fn disjunct_explosion_is_refused() {
    let mut t = v1(1, 1, "(assert (<= 0 X_0 1))");
    for _ in 0..20 {
        t += "(assert (or (>= Y_0 1) (<= Y_0 0)))";
    }
    assert!(prop_err(&t, 1, 1).contains("more than 10000 disjuncts"));
}

/// Every malformed form: a message naming the file, line and column, and what was expected.
#[test]
fn malformed_queries_name_file_line_column_and_expectation() {
    let cases: &[(&str, &str, &str)] = &[
        ("(assert (<= X_0 1)", "t.vnnlib:1:1:", "never closed"),
        ("(declare-const X_0 Real))", "t.vnnlib:1:25:", "without a matching"),
        ("(declare-const Z_0 Real)", "t.vnnlib:1:16:", "X_i (inputs) or Y_j"),
        ("(declare-const X_a Real)", "t.vnnlib:1:16:", "flat index"),
        ("(declare-const X_0 Real)(declare-const X_0 Real)", "1:40:", "declared twice"),
        ("(declare-const X_0 Real)(declare-const X_2 Real)(declare-const Y_0 Real)", ":1:", "without gaps"),
        ("(declare-const X_0 Real)(declare-const Y_0 Real)\n(assert (<= X_1 0))", "t.vnnlib:2:13:", "not declared"),
        ("(declare-const X_0 Real)(declare-const Y_0 Real)\n(assert (<= X_0))", "t.vnnlib:2:9:", "at least two"),
        ("(declare-const X_0 Real)(declare-const Y_0 Real)\n(assert (foo X_0 1))", "t.vnnlib:2:9:", "unknown formula"),
        ("(declare-const X_0 Real)(declare-const Y_0 Real)\n(assert (<= (sin X_0) 1))", "2:13:", "unknown arithmetic"),
        ("(declare-const X_0 Real)(declare-const Y_0 Real)\n(assert (<= X_0 1) (<= X_0 2))", "2:1:", "exactly one formula"),
        ("(declare-const X_0 Real)(declare-const Y_0 Real)\n(assert X_0)", "2:9:", "expected a formula"),
        ("(declare-const X_0 Real)(declare-const Y_0 Real)\n(assert (<= \"a\" 1))", "2:13:", "string"),
        ("(frobnicate)", "1:1:", "unknown command"),
        ("(declare-network N (declare-input X float32 [1]))", "1:1:", "must start with (vnnlib-version"),
        ("(vnnlib-version <3.0>)", "1:1:", "expected (vnnlib-version <2.0>)"),
        ("(vnnlib-version <2.0>)(vnnlib-version <2.0>)", "1:23:", "must be the first"),
        ("(vnnlib-version <2.0>)(declare-const X_0 Real)", "1:23:", "declare-const is VNN-LIB 1.0"),
        ("(vnnlib-version <2.0>)\n(declare-network N (declare-input X float32 [0]) (declare-output Y float32 [1]))", "2:45:", "positive dimension"),
        ("(vnnlib-version <2.0>)\n(declare-network N (declare-input X float32 2) (declare-output Y float32 [1]))", "2:45:", "expected a shape"),
        ("(vnnlib-version <2.0>)\n(declare-network N (declare-output Y float32 [1]) (declare-input X float32 [1]))", "2:51:", "order inputs, hidden nodes, outputs"),
        ("(vnnlib-version <2.0>)\n(declare-network N (declare-input X float32 [1]))", "2:1:", "at least one declare-input and one declare-output"),
        ("(vnnlib-version <2.0>)\n(declare-network N (declare-input X float32 [1]) (declare-output X float32 [1]))", "2:66:", "declared twice"),
        ("(vnnlib-version <2.0>)\n(declare-network N (declare-input X float32 [1]) (declare-output Y float32 [1]) (wibble))", "2:81:", "unknown network element"),
        ("(vnnlib-version <2.0>)\n(declare-network N (declare-input X float32 [2]) (declare-output Y float32 [1]))\n(assert (<= X[2] 1))", "3:13:", "out of range"),
        ("(vnnlib-version <2.0>)\n(declare-network N (declare-input X float32 [2]) (declare-output Y float32 [1]))\n(assert (<= X[0,0] 1))", "3:13:", "wrong number of indices"),
        ("(vnnlib-version <2.0>)\n(declare-network N (declare-input X float32 [2]) (declare-output Y float32 [1]))\n(assert (<= Z[0] 1))", "3:13:", "unknown variable 'Z'"),
        ("(vnnlib-version <2.0>)\n(declare-network N (declare-input X float32 [2]) (declare-output Y float32 [1]))\n(assert (<= X[a] 1))", "3:13:", "not an index"),
        ("(vnnlib-version <2.0>)\n(declare-network N (equal-to M) (declare-input X float32 [2]) (declare-output Y float32 [1]))", "2:20:", "no network 'M'"),
    ];
    let mut wrong = Vec::new();
    for (text, at, what) in cases {
        let e = err(text);
        if !(e.contains(at) && e.contains(what)) {
            wrong.push(format!("{text:?}\n  gave: {e}\n  wanted {at} … {what}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn huge_declared_sizes_are_refused_without_allocating() {
    let t = "(vnnlib-version <2.0>)\n(declare-network N (declare-input X float32 [100000,100000,100000]) (declare-output Y float32 [1]))";
    assert!(err(t).contains("more than"));
    let t = "(vnnlib-version <2.0>)\n(declare-network N (declare-input X float32 [99999999999999999999999]) (declare-output Y float32 [1]))";
    assert!(err(t).contains("positive dimension"));
}

#[test]
fn gzipped_files_are_read_directly() {
    use std::io::Write;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("p.vnnlib.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&path).expect("the file is created"),
        flate2::Compression::default(),
    );
    gz.write_all(v1(1, 1, "(assert (<= 0 X_0 1))(assert (>= Y_0 0))").as_bytes())
        .expect("the gzip stream is written");
    gz.finish().expect("the gzip stream is finished");
    let q = read_vnnlib(&path).expect("the gzipped query is read");
    assert_eq!(q.input_size(), 1);
    let e = read_vnnlib(dir.path().join("missing.vnnlib"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("missing.vnnlib"));
    std::fs::write(dir.path().join("bin.vnnlib"), b"(assert \xff)").expect("the file is written");
    let e = read_vnnlib(dir.path().join("bin.vnnlib"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("bin.vnnlib:1:9") && e.contains("UTF-8"), "{e}");
}

#[test]
fn v1_indices_follow_one_strict_rule_in_declarations_and_uses() {
    // `X_01` is not `X_1`: a use with a leading zero or a sign is an unknown name, never an
    // alias of another variable.
    let t = v1(2, 1, "(assert (<= X_01 0.5))");
    assert!(err(&t).contains("unknown variable 'X_01'"), "{}", err(&t));
    let t = v1(2, 1, "(assert (<= X_+1 0.5))");
    assert!(err(&t).contains("unknown variable 'X_+1'"), "{}", err(&t));
    let t = "(declare-const X_+1 Real)(declare-const Y_0 Real)";
    assert!(err(t).contains("expected a flat index"), "{}", err(t));
    // Declarations in any order, resolved by index.
    let t = "(declare-const Y_0 Real)(declare-const X_1 Real)(declare-const X_0 Real)(assert (<= 0 X_0 1))(assert (<= 0 X_1 0.25))(assert (>= Y_0 0))";
    let p = prop(t, 2, 1);
    assert_eq!(p.disjuncts[0].region.ub()[1], 0.25);
    // A gap names the least undeclared index's successor that was declared.
    let t = "(declare-const X_0 Real)(declare-const X_5 Real)(declare-const X_3 Real)(declare-const Y_0 Real)";
    assert!(err(t).contains("X_3 is declared but"), "{}", err(t));
}

#[test]
fn v2_indices_past_the_shape_are_refused_without_overflow() {
    let t = "(vnnlib-version <2.0>)\n(declare-network N (declare-input X float32 [2,2]) (declare-output Y float32 [1]))\n(assert (<= X[18446744073709551615,0] 1))";
    let e = err(t);
    assert!(e.contains("X[18446744073709551615,0]"), "{e}");
}

#[test]
fn each_atom_of_a_chain_shows_its_own_pair() {
    let t = v1(1, 1, "(assert (<= 0 X_0 1))(assert (>= Y_0 0))");
    let q = parse_vnnlib(&t, "t").expect("the query parses");
    let Formula::And(items) = &q.assertions[0] else {
        panic!("a chain is a conjunction of its pairs")
    };
    let texts: Vec<String> = items
        .iter()
        .filter_map(|f| match f {
            Formula::Atom(a) => Some(a.text.clone()),
            _ => None,
        })
        .collect();
    assert!(texts.contains(&"(<= 0 X_0)".to_string()), "{texts:?}");
    assert!(texts.contains(&"(<= X_0 1)".to_string()), "{texts:?}");
}

#[test]
fn many_asserts_read_as_one_conjunction() {
    // One assert per bound, as VNN-COMP generators write them: one disjunct holding them all.
    let n = 3000;
    let mut body = String::new();
    for i in 0..n {
        body += &format!("(assert (<= X_{i} 0.75))(assert (>= X_{i} 0.25))\n");
    }
    body += "(assert (>= Y_0 Y_1))";
    let p = prop(&v1(n, 2, &body), n, 2);
    assert_eq!(p.disjuncts.len(), 1);
    assert!(p.disjuncts[0].region.lb().iter().all(|&v| v == 0.25));
    assert!(p.disjuncts[0].region.ub().iter().all(|&v| v == 0.75));
}
