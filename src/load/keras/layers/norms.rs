//! Normalisation and scaling: `BatchNormalization`, `LayerNormalization`, `Rescaling`,
//! `Normalization`.

use super::*;

pub(super) fn axis_of(l: &Layer, default: i64) -> Result<Option<i64>> {
    match l.get("axis") {
        None => Ok(Some(default)),
        Some(n) => match (n.as_i64(), n.as_list()) {
            (Some(a), _) => Ok(Some(a)),
            (None, Some([one])) => Ok(one.as_i64()),
            (None, Some(_)) => Ok(None),
            _ => fail(
                format!(
                    "{}: `axis` must be an integer or a list of integers",
                    l.what()
                ),
                Some(n.span),
            ),
        },
    }
}

pub(super) fn batch_norm(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<ValueId> {
    let s = cx.shape(x);
    let axis = axis_of(l, -1)?;
    let eps = l.float("epsilon")?.unwrap_or(1e-3);
    let o = &l.origin;
    let (Some(shape), Some(axis)) = (&s, axis) else {
        return Ok(cx.opaque(o, l.class, &[x], vec![], vec![s])[0]);
    };
    let rank = shape.len();
    let Some(a) = norm_axis(axis, rank) else {
        return fail(
            format!(
                "{}: `axis` {axis} is outside the input's rank {rank}",
                l.what()
            ),
            l.get("axis").map(|n| n.span),
        );
    };
    if rank < 2 || (a != 1 && a != rank - 1) {
        return Ok(cx.opaque(o, l.class, &[x], vec![], vec![s])[0]);
    }
    let c = Some(shape[a].fixed());
    let scale = l.flag("scale", true)?;
    let center = l.flag("center", true)?;
    let params: Vec<ValueId> = ["gamma", "beta", "moving_mean", "moving_variance"]
        .iter()
        .map(|&w| fixed_or_weight(cx, l, w, c.flatten(), scale, center))
        .collect();
    let move_axis = a != 1;
    let xc = if move_axis {
        to_channels_first(cx, l, x, rank - 2)
    } else {
        x
    };
    let sc = cx.shape(xc);
    let mut ins = vec![xc];
    ins.extend(params);
    let y = cx.op(o, "BatchNormalization", &ins, vec![("epsilon", f(eps))], sc);
    Ok(if move_axis {
        to_channels_last(cx, l, y, rank - 2)
    } else {
        y
    })
}

pub(super) fn layer_norm(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<ValueId> {
    let s = cx.shape(x);
    let axis = axis_of(l, -1)?;
    let eps = l.float("epsilon")?.unwrap_or(1e-3);
    let o = &l.origin;
    let last = match (&s, axis) {
        (Some(shape), Some(a)) => norm_axis(a, shape.len()).filter(|&a| a + 1 == shape.len()),
        _ => None,
    };
    let (Some(shape), Some(a)) = (&s, last) else {
        return Ok(cx.opaque(o, l.class, &[x], vec![], vec![s])[0]);
    };
    let c = shape[a].fixed();
    let scale = l.flag("scale", true)?;
    let center = l.flag("center", true)?;
    let gamma = fixed_or_weight(cx, l, "gamma", c, scale, center);
    let beta = fixed_or_weight(cx, l, "beta", c, scale, center);
    Ok(cx.op(
        o,
        "LayerNormalization",
        &[x, gamma, beta],
        vec![("axis", Attr::Int(-1)), ("epsilon", f(eps))],
        s,
    ))
}

/// A normalisation parameter: with `scale=False` Keras has no `gamma` (it is 1), with
/// `center=False` no `beta` (it is 0), so these are constants rather than weights a file fills in.
pub(super) fn fixed_or_weight(
    cx: &mut Cx,
    l: &Layer,
    what: &str,
    c: Option<u64>,
    scale: bool,
    center: bool,
) -> ValueId {
    let fixed = match what {
        "gamma" if !scale => Some(1.0),
        "beta" if !center => Some(0.0),
        _ => None,
    };
    match (fixed, c.and_then(|c| usize::try_from(c).ok())) {
        (Some(v), Some(n)) if n <= 1 << 24 => {
            cx.const_f32(&l.path, what, vec![n as i64], vec![v; n])
        }
        _ => cx.weight(&l.path, what, &[c]),
    }
}

/// A number or a list of numbers from the config, as a constant with real data.
pub(super) fn numbers(l: &Layer, key: &str) -> Result<Option<(Vec<i64>, Vec<f32>)>> {
    let Some(node) = l.get(key) else {
        return Ok(None);
    };
    if let Some(v) = node.as_f64() {
        return Ok(Some((vec![], vec![v as f32])));
    }
    let values: Option<Vec<f32>> = node
        .as_list()
        .and_then(|v| v.iter().map(|n| n.as_f64().map(|x| x as f32)).collect());
    match values {
        Some(v) => Ok(Some((vec![v.len() as i64], v))),
        None => fail(
            format!(
                "{}: `{key}` must be a number or a list of numbers",
                l.what()
            ),
            Some(node.span),
        ),
    }
}

pub(super) fn rescaling(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<ValueId> {
    let s = cx.shape(x);
    let mut y = x;
    if let Some((dims, v)) = numbers(l, "scale")? {
        let c = cx.const_f32(&l.path, "scale", dims, v);
        y = cx.op(&l.origin, "Mul", &[y, c], vec![], s.clone());
    }
    if let Some((dims, v)) = numbers(l, "offset")?
        && v.iter().any(|&o| o != 0.0)
    {
        let c = cx.const_f32(&l.path, "offset", dims, v);
        y = cx.op(&l.origin, "Add", &[y, c], vec![], s.clone());
    }
    if y == x {
        y = cx.op(&l.origin, "Identity", &[x], vec![], s);
    }
    Ok(y)
}

pub(super) fn normalization(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<ValueId> {
    let s = cx.shape(x);
    let (mean, var) = (numbers(l, "mean")?, numbers(l, "variance")?);
    let invert = l.flag("invert", false)?;
    let (Some((md, mv)), Some((vd, vv)), false) = (mean, var, invert) else {
        // Adapted statistics live in the weights, which are not read.
        return Ok(cx.opaque(&l.origin, l.class, &[x], vec![], vec![s])[0]);
    };
    let std: Vec<f32> = vv.iter().map(|&v| v.max(0.0).sqrt().max(1e-7)).collect();
    let m = cx.const_f32(&l.path, "mean", md, mv);
    let d = cx.const_f32(&l.path, "stddev", vd, std);
    let centred = cx.op(&l.origin, "Sub", &[x, m], vec![], s.clone());
    Ok(cx.op(&l.origin, "Div", &[centred, d], vec![], s))
}
