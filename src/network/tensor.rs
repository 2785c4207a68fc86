//! Tensor shape algebra shared by the importer and the interval evaluator: C-order strides,
//! broadcasting, transposition, reshape targets, Gather and Concat on constant tensors (and on
//! row numbers, which is how both move rows of network values).

/// A tensor of constants (shapes and integers are stored as f64: exact below 2^53).
#[derive(Debug, Clone)]
pub(super) struct Tensor {
    pub(super) shape: Vec<usize>,
    pub(super) data: Vec<f64>,
}

/// Element count, saturating: a hostile file's dimensions cannot wrap around to a small count.
pub(super) fn numel(shape: &[usize]) -> usize {
    shape.iter().fold(1usize, |a, &d| a.saturating_mul(d))
}

/// Most values one tensor may hold while folding (an affine value counts rows × basis size):
/// 2^26 f64 are 512 MB. A model that declares more is refused with one message instead of an
/// abort for lack of memory.
pub(super) const MAX_VALUES: usize = 1 << 26;

/// The positions a shape spans, counting a zero dimension as one: what index maps over the
/// shape allocate even when it holds no element (`[0, 2^40]` holds none but spans 2^40).
pub(super) fn extent(shape: &[usize]) -> usize {
    shape
        .iter()
        .fold(1usize, |a, &d| a.saturating_mul(d.max(1)))
}

/// Strides of a C-order tensor.
pub(super) fn strides(shape: &[usize]) -> Vec<usize> {
    let mut s = vec![1; shape.len()];
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// For each flat index of `out_shape`, the flat index in a tensor of `in_shape` that numpy
/// broadcasting reads (in_shape is right-aligned and its size-1 dims repeat).
pub(super) fn broadcast_map(out_shape: &[usize], in_shape: &[usize]) -> Vec<usize> {
    let offset = out_shape.len() - in_shape.len();
    let in_strides = strides(in_shape);
    let out_strides = strides(out_shape);
    (0..numel(out_shape))
        .map(|flat| {
            let mut src = 0;
            for (k, &dim) in in_shape.iter().enumerate() {
                let coord = (flat / out_strides[k + offset]) % out_shape[k + offset];
                if dim != 1 {
                    src += coord * in_strides[k];
                }
            }
            src
        })
        .collect()
}

pub(super) fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let len = a.len().max(b.len());
    let mut out = vec![0; len];
    for i in 0..len {
        let da = if i + a.len() >= len {
            a[i + a.len() - len]
        } else {
            1
        };
        let db = if i + b.len() >= len {
            b[i + b.len() - len]
        } else {
            1
        };
        out[i] = match (da, db) {
            (x, y) if x == y => x,
            (1, y) => y,
            (x, 1) => x,
            _ => return None,
        };
    }
    Some(out)
}

/// For each flat index of the transposed tensor, the flat index it reads in the original.
pub(super) fn transpose_map(shape: &[usize], perm: &[usize]) -> (Vec<usize>, Vec<usize>) {
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let in_strides = strides(shape);
    let out_strides = strides(&out_shape);
    let map = (0..numel(&out_shape))
        .map(|flat| {
            perm.iter()
                .enumerate()
                .map(|(k, &p)| ((flat / out_strides[k]) % out_shape[k]) * in_strides[p])
                .sum()
        })
        .collect();
    (map, out_shape)
}

/// ONNX `Shape` (opset 15+ `start`/`end`, negative counted from the end, clamped): the
/// selected dimensions of `shape`, as values.
pub(super) fn shape_slice(shape: &[usize], start: i64, end: Option<i64>) -> Vec<f64> {
    let rank = shape.len() as i64;
    let clamp = |x: i64| {
        let x = if x < 0 { x + rank } else { x };
        x.clamp(0, rank) as usize
    };
    let (s, e) = (clamp(start), clamp(end.unwrap_or(rank)));
    shape[s..e.max(s)].iter().map(|&d| d as f64).collect()
}

/// ONNX `Flatten`'s axis: in `[-rank, rank]`, a negative one counted from the end (`-1` is
/// `rank - 1`, not `rank` as [`normalize_axis`] over `rank + 1` positions would make it).
pub(super) fn flatten_axis(axis: i64, rank: usize) -> Option<usize> {
    (axis == rank as i64)
        .then_some(rank)
        .or_else(|| normalize_axis(axis, rank))
}

pub(super) fn normalize_axis(axis: i64, rank: usize) -> Option<usize> {
    let r = rank as i64;
    let a = if axis < 0 { axis + r } else { axis };
    (0..r).contains(&a).then_some(a as usize)
}

/// The shape after ONNX `Squeeze` (`squeeze`: drops the size-1 `axes`, all size-1 axes when
/// none are given) or `Unsqueeze` (inserts size-1 axes at `axes` of the result); `None` when an
/// axis is out of range.
pub(super) fn squeezed_shape(shape: &[usize], axes: &[i64], squeeze: bool) -> Option<Vec<usize>> {
    if squeeze {
        let axes: Vec<usize> = axes
            .iter()
            .map(|&a| normalize_axis(a, shape.len()))
            .collect::<Option<_>>()?;
        Some(
            shape
                .iter()
                .enumerate()
                .filter(|(i, &d)| !(d == 1 && (axes.is_empty() || axes.contains(i))))
                .map(|(_, &d)| d)
                .collect(),
        )
    } else {
        let rank = shape.len() + axes.len();
        let mut axes: Vec<usize> = axes
            .iter()
            .map(|&a| normalize_axis(a, rank))
            .collect::<Option<_>>()?;
        axes.sort_unstable();
        let mut new = shape.to_vec();
        for a in axes {
            new.insert(a, 1);
        }
        Some(new)
    }
}

/// Resolves an ONNX Reshape target (with `0` = copy and `-1` = infer).
pub(super) fn resolve_shape(
    from: &[usize],
    target: &[f64],
    allow_zero: bool,
) -> Result<Vec<usize>, String> {
    let total = numel(from);
    let mut out = Vec::with_capacity(target.len());
    let mut infer = None;
    for (i, &t) in target.iter().enumerate() {
        let t = t as i64;
        match t {
            -1 if infer.is_none() => {
                infer = Some(i);
                out.push(1);
            }
            0 if !allow_zero => out.push(
                *from
                    .get(i)
                    .ok_or_else(|| format!("shape entry {i} copies a missing dimension"))?,
            ),
            t if t >= 0 => out.push(t as usize),
            _ => return Err(format!("invalid target shape {target:?}")),
        }
    }
    let known: usize = numel(&out);
    if let Some(i) = infer {
        if known == 0 || !total.is_multiple_of(known) {
            return Err(format!("cannot reshape {from:?} to {target:?}"));
        }
        out[i] = total / known;
    }
    if numel(&out) != total {
        return Err(format!(
            "cannot reshape {from:?} ({total} values) to {out:?}"
        ));
    }
    Ok(out)
}

pub(super) fn gather(data: &Tensor, idx: &Tensor, axis: i64) -> Result<Tensor, String> {
    let rank = data.shape.len();
    let axis = normalize_axis(axis, rank).ok_or("axis out of range")?;
    let dim = data.shape[axis];
    let outer = numel(&data.shape[..axis]);
    let inner = numel(&data.shape[axis + 1..]);
    let mut shape = data.shape[..axis].to_vec();
    shape.extend_from_slice(&idx.shape);
    shape.extend_from_slice(&data.shape[axis + 1..]);
    let mut out = Vec::with_capacity(numel(&shape));
    for o in 0..outer {
        for &i in &idx.data {
            let i = i as i64;
            let i = if i < 0 { i + dim as i64 } else { i };
            if !(0..dim as i64).contains(&i) {
                return Err(format!("index {i} out of range for dimension {dim}"));
            }
            let base = (o * dim + i as usize) * inner;
            out.extend_from_slice(&data.data[base..base + inner]);
        }
    }
    Ok(Tensor { shape, data: out })
}

pub(super) fn concat(parts: &[Tensor], axis: i64) -> Result<Tensor, String> {
    let first = parts.first().ok_or("nothing to concatenate")?;
    let rank = first.shape.len();
    let axis = normalize_axis(axis, rank).ok_or("axis out of range")?;
    let outer = numel(&first.shape[..axis]);
    let mut shape = first.shape.clone();
    shape[axis] = 0;
    for p in parts {
        if p.shape.len() != rank
            || p.shape[..axis] != first.shape[..axis]
            || p.shape[axis + 1..] != first.shape[axis + 1..]
        {
            return Err(format!(
                "cannot concatenate shapes {:?} and {:?} on axis {axis}",
                first.shape, p.shape
            ));
        }
        shape[axis] += p.shape[axis];
    }
    let mut data = Vec::with_capacity(numel(&shape));
    for o in 0..outer {
        for p in parts {
            let chunk = numel(&p.shape[axis..]);
            data.extend_from_slice(&p.data[o * chunk..(o + 1) * chunk]);
        }
    }
    Ok(Tensor { shape, data })
}

/// The elements `Slice` selects (ONNX semantics: negative starts/ends count from the end, ends
/// are clamped, negative steps walk backwards), as flat indices in C order, and the result's
/// shape.
pub(super) fn slice_map(
    shape: &[usize],
    starts: &[i64],
    ends: &[i64],
    axes: Option<&[i64]>,
    steps: Option<&[i64]>,
) -> Result<(Vec<usize>, Vec<usize>), String> {
    let rank = shape.len();
    if starts.len() != ends.len() {
        return Err("starts and ends differ in length".to_string());
    }
    let mut picks: Vec<Vec<usize>> = shape.iter().map(|&d| (0..d).collect()).collect();
    for k in 0..starts.len() {
        let axis = match axes {
            Some(a) => *a.get(k).ok_or("axes shorter than starts")?,
            None => k as i64,
        };
        let axis = normalize_axis(axis, rank).ok_or("axis out of range")?;
        let step = steps
            .map_or(Some(1), |s| s.get(k).copied())
            .ok_or("steps shorter than starts")?;
        if step == 0 {
            return Err("a step of 0".to_string());
        }
        let d = shape[axis] as i64;
        let norm = |v: i64| if v < 0 { v.saturating_add(d) } else { v };
        let (s, e) = (norm(starts[k]), norm(ends[k]));
        let mut out = Vec::new();
        if step > 0 {
            let (mut i, e) = (s.clamp(0, d), e.clamp(0, d));
            while i < e {
                out.push(i as usize);
                i = i.saturating_add(step);
            }
        } else {
            let (mut i, e) = (s.clamp(-1, d - 1), e.clamp(-1, d - 1));
            while i > e {
                out.push(i as usize);
                i = i.saturating_add(step);
            }
        }
        picks[axis] = out;
    }
    let out_shape: Vec<usize> = picks.iter().map(Vec::len).collect();
    let st = strides(shape);
    let mut map = vec![0usize];
    for (k, p) in picks.iter().enumerate() {
        let stride = st[k];
        map = map
            .iter()
            .flat_map(|&base| p.iter().map(move |&i| base + i * stride))
            .collect();
    }
    Ok((map, out_shape))
}

/// The groups of elements a reduction over `axes` (all when empty) sums, in C order of the
/// result, and the result's shape.
pub(super) fn reduce_groups(
    shape: &[usize],
    axes: &[usize],
    keepdims: bool,
) -> (Vec<Vec<usize>>, Vec<usize>) {
    let rank = shape.len();
    let reduced = |k: usize| axes.is_empty() || axes.contains(&k);
    let kept: Vec<usize> = (0..rank)
        .map(|k| if reduced(k) { 1 } else { shape[k] })
        .collect();
    let mut groups = vec![Vec::new(); numel(&kept)];
    let st = strides(shape);
    let kst = strides(&kept);
    for flat in 0..numel(shape) {
        let mut g = 0;
        for k in 0..rank {
            let coord = (flat / st[k]) % shape[k];
            if !reduced(k) {
                g += coord * kst[k];
            }
        }
        groups[g].push(flat);
    }
    let out_shape = if keepdims {
        kept
    } else {
        (0..rank)
            .filter(|&k| !reduced(k))
            .map(|k| shape[k])
            .collect()
    };
    (groups, out_shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_slices_follow_onnx_start_and_end() {
        let s = [1, 28, 28];
        assert_eq!(shape_slice(&s, 0, None), vec![1.0, 28.0, 28.0]);
        assert_eq!(shape_slice(&s, 1, None), vec![28.0, 28.0]);
        assert_eq!(shape_slice(&s, -1, None), vec![28.0]);
        assert_eq!(shape_slice(&s, 0, Some(-1)), vec![1.0, 28.0]);
        assert_eq!(shape_slice(&s, 2, Some(1)), Vec::<f64>::new());
        assert_eq!(shape_slice(&s, -10, Some(10)), vec![1.0, 28.0, 28.0]);
    }

    #[test]
    fn slices_follow_onnx_semantics() {
        // [0 1 2 3 4][1:3]
        assert_eq!(
            slice_map(&[5], &[1], &[3], None, None).unwrap(),
            (vec![1, 2], vec![2])
        );
        // Negative start, clamped end, last axis of a 2x3.
        let (m, s) = slice_map(&[2, 3], &[-2], &[1000], Some(&[-1]), None).unwrap();
        assert_eq!((m, s), (vec![1, 2, 4, 5], vec![2, 2]));
        // Backwards with step -2 from 4 down to (not including) 0.
        assert_eq!(
            slice_map(&[5], &[4], &[0], None, Some(&[-2])).unwrap().0,
            vec![4, 2]
        );
        assert!(slice_map(&[5], &[0], &[5], None, Some(&[0])).is_err());
    }

    #[test]
    fn reductions_group_the_right_elements() {
        let (g, s) = reduce_groups(&[2, 2], &[1], false);
        assert_eq!((g, s), (vec![vec![0, 1], vec![2, 3]], vec![2]));
        let (g, s) = reduce_groups(&[2, 2], &[0], true);
        assert_eq!((g, s), (vec![vec![0, 2], vec![1, 3]], vec![1, 2]));
        let (g, s) = reduce_groups(&[2], &[], true);
        assert_eq!((g, s), (vec![vec![0, 1]], vec![1]));
    }
}
