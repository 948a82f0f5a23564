//! Values of small integer tensors: the shape computations exporters write (`Shape` → `Gather` /
//! `Slice` → `Unsqueeze` → `Concat` → `Cast` → `Reshape`). Each element is a known integer, a dim the
//! file names (`batch`, `unk__3`), "dim `i` of value `v`" for a dim nobody named (so a batch dim read
//! with `Shape` and fed back to `Reshape` of the same tensor cancels out), or unknown. Only 0-d and
//! 1-d tensors of at most [`MAX_ELEMS`] elements are tracked; everything else stays unknown.

use std::collections::HashMap;

use super::{backward, const_ints, norm_axis};
use crate::ir::{Attr, DType, Dim, Graph, Op, Shape, TensorData, TensorRef, ValueId};

/// Longest integer vector tracked.
pub const MAX_ELEMS: usize = 64;

/// One element of a known integer tensor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Elem {
    Int(i64),
    /// A dim the file names.
    Named(String),
    /// Dim `i` of value `v` (the value read by `Shape`, followed back through shape-preserving ops),
    /// whose size is not known and not named.
    DimOf(ValueId, usize),
    Unknown,
}

#[derive(Clone, Debug, PartialEq)]
struct Vals {
    elems: Vec<Elem>,
    /// A 0-d tensor (one element).
    scalar: bool,
}

/// Known integer values, by value id.
#[derive(Debug, Default)]
pub struct Known {
    map: HashMap<ValueId, Vals>,
}

impl Known {
    /// How much is known (grows monotonically as passes sharpen values).
    pub fn amount(&self) -> usize {
        self.map
            .values()
            .map(|v| 1 + v.elems.iter().filter(|e| **e != Elem::Unknown).count())
            .sum()
    }

    /// Elements of a known 1-d (or 0-d) integer tensor: folded, or a small constant.
    pub fn elems(&self, v: ValueId) -> Option<Vec<Elem>> {
        self.map.get(&v).map(|x| x.elems.clone())
    }

    /// The value as plain integers, when every element is one.
    pub fn ints(&self, v: ValueId) -> Option<Vec<i64>> {
        self.map.get(&v)?.elems.iter().map(Elem::int).collect()
    }

    /// Elements of a folded value or of a small integer constant.
    pub fn elems_or_const(&self, graph: &Graph, v: ValueId) -> Option<Vec<Elem>> {
        self.get(graph, v).map(|x| x.elems)
    }

    fn get(&self, graph: &Graph, v: ValueId) -> Option<Vals> {
        if let Some(x) = self.map.get(&v) {
            return Some(x.clone());
        }
        let c = graph.value(v).constant.as_ref()?;
        tensor_vals(c)
    }

    fn set(&mut self, v: ValueId, vals: Vals) {
        if vals.elems.len() <= MAX_ELEMS {
            self.map.insert(v, vals);
        }
    }
}

impl Elem {
    fn int(&self) -> Option<i64> {
        match self {
            Elem::Int(n) => Some(*n),
            _ => None,
        }
    }
}

fn tensor_vals(t: &TensorRef) -> Option<Vals> {
    if t.dims.len() > 1 || !matches!(t.dtype, DType::I64 | DType::I32) {
        return None;
    }
    let ints = tensor_ints(t)?;
    if t.dims.is_empty() && ints.len() != 1 {
        return None;
    }
    Some(Vals {
        elems: ints.into_iter().map(Elem::Int).collect(),
        scalar: t.dims.is_empty(),
    })
}

fn tensor_ints(t: &TensorRef) -> Option<Vec<i64>> {
    if t.element_count()? > MAX_ELEMS as u64 {
        return None;
    }
    match (&t.data, t.dtype) {
        (TensorData::Int64s(v), _) => Some(v.to_vec()),
        (TensorData::Int32s(v), _) => Some(v.iter().map(|&x| i64::from(x)).collect()),
        (TensorData::Raw(b), DType::I64) => Some(
            b.chunks_exact(8)
                .map(|c| i64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
                .collect(),
        ),
        (TensorData::Raw(b), DType::I32) => Some(
            b.chunks_exact(4)
                .map(|c| i64::from(i32::from_le_bytes(c.try_into().unwrap_or([0; 4]))))
                .collect(),
        ),
        _ => None,
    }
}

fn is_int(dtype: Option<DType>) -> bool {
    matches!(
        dtype,
        Some(
            DType::I64
                | DType::I32
                | DType::I16
                | DType::I8
                | DType::U8
                | DType::U16
                | DType::U32
                | DType::U64
        )
    )
}

/// The value whose dims `v` has: followed back through ops that keep their input's shape.
pub fn shape_root(graph: &Graph, mut v: ValueId) -> ValueId {
    for _ in 0..256 {
        let Some(op) = graph.producer(v) else {
            break;
        };
        match op.input(0) {
            Some(x) if backward::preserves_shape(op) && op.outputs.first() == Some(&v) => v = x,
            _ => break,
        }
    }
    v
}

/// `Shape`'s `start`/`end` (opset 15), clamped to `[0, rank]`.
pub fn shape_range(op: &Op, rank: usize) -> (usize, usize) {
    let r = rank as i64;
    let clamp = |a: i64| -> usize {
        let a = if a < 0 { a + r } else { a };
        a.clamp(0, r) as usize
    };
    let start = clamp(op.attr_int("start").unwrap_or(0));
    let end = clamp(op.attr_int("end").unwrap_or(r));
    (start, end.max(start))
}

/// Indices a Slice with these parameters selects from an axis of length `n` (ONNX clamping rules).
pub fn slice_indices(n: i64, start: i64, end: i64, step: i64) -> Option<Vec<i64>> {
    if step == 0 || n < 0 {
        return None;
    }
    if n == 0 {
        return Some(vec![]);
    }
    let adj = |x: i64| if x < 0 { x.saturating_add(n) } else { x };
    let mut out = vec![];
    if step > 0 {
        let (s, e) = (adj(start).clamp(0, n), adj(end).clamp(0, n));
        let mut i = s;
        while i < e {
            out.push(i);
            if out.len() > MAX_ELEMS {
                return None;
            }
            i = i.checked_add(step)?;
        }
    } else {
        let (s, e) = (adj(start).clamp(0, n - 1), adj(end).clamp(-1, n - 1));
        let mut i = s;
        while i > e {
            out.push(i);
            if out.len() > MAX_ELEMS {
                return None;
            }
            i = i.checked_add(step)?;
        }
    }
    Some(out)
}

/// Length of a slice of an axis of length `n`, without listing the indices.
pub fn slice_len(n: i64, start: i64, end: i64, step: i64) -> Option<i64> {
    if step == 0 || n < 0 {
        return None;
    }
    if n == 0 {
        return Some(0);
    }
    let adj = |x: i64| if x < 0 { x.saturating_add(n) } else { x };
    let len = if step > 0 {
        let (s, e) = (adj(start).clamp(0, n), adj(end).clamp(0, n));
        (e - s).max(0).saturating_add(step - 1) / step
    } else {
        let (s, e) = (adj(start).clamp(0, n - 1), adj(end).clamp(-1, n - 1));
        let back = step.checked_neg()?;
        (s - e).max(0).saturating_add(back - 1) / back
    };
    Some(len.max(0))
}

/// Folds one op's first output into `known` when its inputs are known integer tensors.
pub fn fold(graph: &Graph, op: &Op, opset: i64, known: &mut Known) {
    if !op.is_default_domain() {
        return;
    }
    let Some(&out) = op.outputs.first() else {
        return;
    };
    if let Some(vals) = fold_op(graph, op, opset, known) {
        known.set(out, vals);
    }
}

/// One op's inputs as the folding rules read them (one function per op below `fold_op`).
struct In<'a> {
    graph: &'a Graph,
    op: &'a Op,
    opset: i64,
    known: &'a Known,
}

impl In<'_> {
    /// Input `i`'s known values.
    fn get(&self, i: usize) -> Option<Vals> {
        self.op.input(i).and_then(|v| self.known.get(self.graph, v))
    }

    /// Input `i`'s integers, folded or constant.
    fn ints(&self, i: usize) -> Option<Vec<i64>> {
        let v = self.op.input(i)?;
        self.known.ints(v).or_else(|| const_ints(self.graph, v))
    }
}

/// A vector of values.
fn vec1(elems: Vec<Elem>) -> Option<Vals> {
    Some(Vals {
        elems,
        scalar: false,
    })
}

/// The values of `op`'s first output, one rule per op.
fn fold_op(graph: &Graph, op: &Op, opset: i64, known: &Known) -> Option<Vals> {
    let x = &In {
        graph,
        op,
        opset,
        known,
    };
    match op.op_type.as_str() {
        "Constant" => constant(x),
        "Shape" => shape_of(x),
        "Size" => size(x),
        "Identity" => x.get(0),
        "Cast" => cast(x),
        "Gather" => gather(x),
        "Slice" => slice(x),
        "Concat" => concat(x),
        "Unsqueeze" => unsqueeze(x),
        "Squeeze" => squeeze(x),
        "Range" => range(x),
        "ReduceProd" | "ReduceSum" => reduce(x),
        "ConstantOfShape" => constant_of_shape(x),
        "Add" | "Sub" | "Mul" | "Div" => arithmetic(x),
        _ => None,
    }
}

/// `Constant`: its tensor, or `value_int(s)`.
fn constant(x: &In) -> Option<Vals> {
    let op = x.op;
    match op.attrs.get("value") {
        Some(Attr::Tensor(t)) => tensor_vals(t),
        _ => match (op.attrs.get("value_int"), op.attrs.get("value_ints")) {
            (Some(Attr::Int(n)), _) => Some(Vals {
                elems: vec![Elem::Int(*n)],
                scalar: true,
            }),
            (_, Some(Attr::Ints(v))) => vec1(v.iter().map(|&n| Elem::Int(n)).collect()),
            _ => None,
        },
    }
}

/// `Shape`: the dims of its input (named and unknown dims kept as such), within `start`/`end`.
fn shape_of(x: &In) -> Option<Vals> {
    let op = x.op;
    let graph = x.graph;
    let input = op.input(0)?;
    let s = graph.value(input).shape.as_ref()?;
    let root = shape_root(graph, input);
    let (a, b) = shape_range(op, s.len());
    vec1(
        (a..b)
            .map(|i| match &s[i] {
                Dim::Fixed(n) => i64::try_from(*n).map_or(Elem::Unknown, Elem::Int),
                Dim::Named(name) => Elem::Named(name.clone()),
                Dim::Unknown => Elem::DimOf(root, i),
            })
            .collect(),
    )
}

/// `Size`: the element count, when every dim is known.
fn size(x: &In) -> Option<Vals> {
    let op = x.op;
    let graph = x.graph;
    let s = graph.value(op.input(0)?).shape.as_ref()?;
    let n = s
        .iter()
        .try_fold(1u64, |acc, d| d.fixed().and_then(|n| acc.checked_mul(n)))?;
    Some(Vals {
        elems: vec![Elem::Int(i64::try_from(n).ok()?)],
        scalar: true,
    })
}

/// `Cast` to an integer type keeps the values.
fn cast(x: &In) -> Option<Vals> {
    let op = x.op;
    let get = |i| x.get(i);
    let to = op.attr_int("to").and_then(|c| DType::from_onnx(c as i32));
    if is_int(to) { get(0) } else { None }
}

/// `Gather` from a vector.
fn gather(x: &In) -> Option<Vals> {
    let op = x.op;
    let get = |i| x.get(i);
    let data = get(0)?;
    if data.scalar || norm_axis(op.attr_int("axis").unwrap_or(0), 1)? != 0 {
        return None;
    }
    let idx = get(1)?;
    let n = data.elems.len() as i64;
    let elems = idx
        .elems
        .iter()
        .map(|e| {
            let i = e.int()?;
            let i = if i < 0 { i + n } else { i };
            data.elems.get(usize::try_from(i).ok()?).cloned()
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Vals {
        elems,
        scalar: idx.scalar,
    })
}

/// `Slice` of a vector.
fn slice(x: &In) -> Option<Vals> {
    let op = x.op;
    let opset = x.opset;
    let get = |i| x.get(i);
    let ints = |i| x.ints(i);
    let data = get(0)?;
    if data.scalar {
        return None;
    }
    let (starts, ends, axes, steps) = if opset < 10 {
        (
            op.attr_ints("starts")?.to_vec(),
            op.attr_ints("ends")?.to_vec(),
            op.attr_ints("axes").map(<[i64]>::to_vec),
            None,
        )
    } else {
        (
            ints(1)?,
            ints(2)?,
            if op.input(3).is_some() {
                Some(ints(3)?)
            } else {
                None
            },
            if op.input(4).is_some() {
                Some(ints(4)?)
            } else {
                None
            },
        )
    };
    if starts.len() != 1 || ends.len() != 1 {
        return None;
    }
    if let Some(a) = axes
        && (a.len() != 1 || norm_axis(a[0], 1)? != 0)
    {
        return None;
    }
    let step = steps.map_or(Some(1), |s| s.first().copied())?;
    let n = data.elems.len() as i64;
    let idx = slice_indices(n, starts[0], ends[0], step)?;
    vec1(
        idx.iter()
            .map(|&i| data.elems[i as usize].clone())
            .collect(),
    )
}

/// `Concat` of vectors.
fn concat(x: &In) -> Option<Vals> {
    let op = x.op;
    let get = |i| x.get(i);
    let mut elems = vec![];
    for i in 0..op.inputs.len() {
        let v = get(i)?;
        if v.scalar {
            return None;
        }
        elems.extend(v.elems);
    }
    vec1(elems)
}

/// `Unsqueeze` of a scalar into a one-element vector.
fn unsqueeze(x: &In) -> Option<Vals> {
    let op = x.op;
    let opset = x.opset;
    let get = |i| x.get(i);
    let ints = |i| x.ints(i);
    let v = get(0)?;
    let axes = if opset >= 13 {
        ints(1)?
    } else {
        op.attr_ints("axes")?.to_vec()
    };
    (v.scalar && axes.len() == 1 && matches!(axes[0], 0 | -1)).then_some(Vals {
        elems: v.elems,
        scalar: false,
    })
}

/// `Squeeze` of a one-element vector into a scalar.
fn squeeze(x: &In) -> Option<Vals> {
    let get = |i| x.get(i);
    let v = get(0)?;
    (!v.scalar && v.elems.len() == 1).then_some(Vals {
        elems: v.elems,
        scalar: true,
    })
}

/// `Range` of at most `MAX_ELEMS` integers.
fn range(x: &In) -> Option<Vals> {
    let ints = |i| x.ints(i);
    let (s, l, d) = (ints(0)?, ints(1)?, ints(2)?);
    let (&[s], &[l], &[d]) = (&s[..], &l[..], &d[..]) else {
        return None;
    };
    if d == 0 {
        return None;
    }
    let n = ((l as f64 - s as f64) / d as f64).ceil().max(0.0);
    if n > MAX_ELEMS as f64 {
        return None;
    }
    let elems = (0..n as i64)
        .map(|k| {
            k.checked_mul(d)
                .and_then(|kd| kd.checked_add(s))
                .map(Elem::Int)
        })
        .collect::<Option<Vec<_>>>()?;
    vec1(elems)
}

/// `ReduceProd`/`ReduceSum` of a vector, keeping one unknown element when the rest is neutral.
fn reduce(x: &In) -> Option<Vals> {
    let op = x.op;
    let opset = x.opset;
    let get = |i| x.get(i);
    let ints = |i| x.ints(i);
    let v = get(0)?;
    if v.scalar {
        return None;
    }
    let axes = if op.op_type == "ReduceSum" && opset >= 13 || opset >= 18 {
        if op.input(1).is_some() {
            Some(ints(1)?)
        } else {
            op.attr_ints("axes").map(<[i64]>::to_vec)
        }
    } else {
        op.attr_ints("axes").map(<[i64]>::to_vec)
    };
    if let Some(a) = &axes
        && !(a.is_empty() || a.len() == 1 && norm_axis(a[0], 1) == Some(0))
    {
        return None;
    }
    let mut acc: i64 = if op.op_type == "ReduceProd" { 1 } else { 0 };
    let mut single = None;
    for e in &v.elems {
        match e.int() {
            Some(n) if op.op_type == "ReduceProd" => acc = acc.checked_mul(n)?,
            Some(n) => acc = acc.checked_add(n)?,
            None if single.is_none() => single = Some(e.clone()),
            None => return None,
        }
    }
    let elem = match single {
        None => Elem::Int(acc),
        Some(e) if op.op_type == "ReduceProd" && acc == 1 => e,
        Some(e) if op.op_type == "ReduceSum" && acc == 0 => e,
        Some(_) => Elem::Unknown,
    };
    let keep = op.attr_int("keepdims").unwrap_or(1) != 0;
    Some(Vals {
        elems: vec![elem],
        scalar: !keep,
    })
}

/// `ConstantOfShape` of an integer fill, as a vector.
fn constant_of_shape(x: &In) -> Option<Vals> {
    let op = x.op;
    let get = |i| x.get(i);
    let dims = get(0)?
        .elems
        .iter()
        .map(Elem::int)
        .collect::<Option<Vec<_>>>()?;
    if dims.len() > 1 {
        return None;
    }
    let fill = match op.attrs.get("value") {
        Some(Attr::Tensor(t)) if matches!(t.dtype, DType::I64 | DType::I32) => {
            *tensor_ints(t)?.first()?
        }
        _ => return None,
    };
    let n = usize::try_from(dims.first().copied().unwrap_or(1)).ok()?;
    if n > MAX_ELEMS {
        return None;
    }
    Some(Vals {
        elems: vec![Elem::Int(fill); n],
        scalar: dims.is_empty(),
    })
}

/// Integer `Add`/`Sub`/`Mul`/`Div`, elementwise with a broadcast scalar.
fn arithmetic(x: &In) -> Option<Vals> {
    let op = x.op;
    let graph = x.graph;
    let get = |i| x.get(i);
    let ty = op.input(0).and_then(|v| graph.value(v).dtype);
    if !is_int(ty) && ty.is_some() {
        return None;
    }
    let (a, b) = (get(0)?, get(1)?);
    let n = a.elems.len().max(b.elems.len());
    let at = |v: &Vals, i: usize| -> Option<Elem> {
        match v.elems.len() {
            1 => Some(v.elems[0].clone()),
            len if len == n => Some(v.elems[i].clone()),
            _ => None,
        }
    };
    let mut elems = vec![];
    for i in 0..n {
        elems.push(arith(op.op_type.as_str(), at(&a, i)?, at(&b, i)?));
    }
    Some(Vals {
        elems,
        scalar: a.scalar && b.scalar,
    })
}

fn arith(op: &str, a: Elem, b: Elem) -> Elem {
    use Elem::Int;
    match (op, &a, &b) {
        ("Add", Int(x), Int(y)) => x.checked_add(*y).map_or(Elem::Unknown, Int),
        ("Sub", Int(x), Int(y)) => x.checked_sub(*y).map_or(Elem::Unknown, Int),
        ("Mul", Int(x), Int(y)) => x.checked_mul(*y).map_or(Elem::Unknown, Int),
        // Integer Div truncates toward zero; a zero divisor is not folded.
        ("Div", Int(x), Int(y)) if *y != 0 => x.checked_div(*y).map_or(Elem::Unknown, Int),
        ("Add" | "Sub", _, Int(0)) | ("Mul" | "Div", _, Int(1)) => a,
        ("Add", Int(0), _) | ("Mul", Int(1), _) => b,
        _ => Elem::Unknown,
    }
}

/// Elements read as dims (negative or unknown → unknown).
pub fn as_dims(graph: &Graph, elems: &[Elem]) -> Shape {
    elems.iter().map(|e| elem_dim(graph, e)).collect()
}

fn elem_dim(graph: &Graph, e: &Elem) -> Dim {
    match e {
        Elem::Int(n) => u64::try_from(*n).map_or(Dim::Unknown, Dim::Fixed),
        Elem::Named(s) => Dim::Named(s.clone()),
        Elem::DimOf(v, i) => graph
            .value(*v)
            .shape
            .as_ref()
            .and_then(|s| s.get(*i).cloned())
            .unwrap_or(Dim::Unknown),
        Elem::Unknown => Dim::Unknown,
    }
}

/// `Reshape` against a target whose elements may be symbolic: `0` copies the input dim, a symbolic
/// element cancels the same dim of the input, and `-1` is what is left when everything else is known.
pub fn reshape(graph: &Graph, op: &Op, target: &[Elem]) -> Option<Shape> {
    let data = op.input(0)?;
    let input = graph.value(data).shape.clone();
    let root = shape_root(graph, data);
    let allow_zero = op.attr_int("allowzero").unwrap_or(0) != 0;
    let mut out = Vec::with_capacity(target.len());
    let mut infer_at = None;
    // Input positions the non-(-1) target elements account for, and the product of the fixed ones.
    let mut consumed: Vec<usize> = vec![];
    let mut known: Option<u64> = Some(1);
    for (i, e) in target.iter().enumerate() {
        match e {
            Elem::Int(-1) if infer_at.is_none() => {
                infer_at = Some(i);
                out.push(Dim::Unknown);
            }
            Elem::Int(0) if !allow_zero => {
                let d = input.as_ref()?.get(i)?.clone();
                consumed.push(i);
                out.push(d);
            }
            Elem::Int(n) if *n >= 0 => {
                known = known.and_then(|k| k.checked_mul(*n as u64));
                out.push(Dim::Fixed(*n as u64));
            }
            Elem::Int(_) => return None,
            Elem::Named(name) => {
                let pos = input.as_ref().and_then(|s| {
                    s.iter()
                        .enumerate()
                        .position(|(j, d)| !consumed.contains(&j) && *d == Dim::Named(name.clone()))
                });
                match pos {
                    Some(j) => consumed.push(j),
                    None => known = None,
                }
                out.push(Dim::Named(name.clone()));
            }
            Elem::DimOf(v, j) => {
                let d = elem_dim(graph, e);
                match &d {
                    Dim::Fixed(n) => known = known.and_then(|k| k.checked_mul(*n)),
                    _ if *v == root && !consumed.contains(j) => consumed.push(*j),
                    _ => known = None,
                }
                out.push(d);
            }
            Elem::Unknown => {
                known = None;
                out.push(Dim::Unknown);
            }
        }
    }
    if let (Some(at), Some(input)) = (infer_at, &input) {
        let rest: Vec<&Dim> = input
            .iter()
            .enumerate()
            .filter(|(j, _)| !consumed.contains(j))
            .map(|(_, d)| d)
            .collect();
        let fixed: Option<u64> = rest
            .iter()
            .try_fold(1u64, |acc, d| d.fixed().and_then(|n| acc.checked_mul(n)));
        let symbolic: Vec<&&Dim> = rest.iter().filter(|d| d.fixed().is_none()).collect();
        let fixed_part: Option<u64> = rest
            .iter()
            .filter_map(|d| d.fixed())
            .try_fold(1u64, |acc, n| acc.checked_mul(n));
        if let (Some(total), Some(k)) = (fixed, known)
            && k > 0
            && total % k == 0
        {
            out[at] = Dim::Fixed(total / k);
        } else if let (Some(k), [only]) = (known, &symbolic[..])
            && Some(k) == fixed_part
        {
            // The rest is one symbolic dim times exactly what the target fixes: -1 is that dim.
            out[at] = (**only).clone();
        }
    }
    Some(out)
}
