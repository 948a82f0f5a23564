//! Layers that move, repeat, pad or crop elements: `Flatten`, `Reshape`, `Permute`, `UpSampling*`,
//! `ZeroPadding*`, `Cropping*`.

use super::*;

pub(super) fn flatten(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<ValueId> {
    let s = match cx.shape(x) {
        Some(s) if !s.is_empty() => {
            let rest = product(s[1..].iter().map(Dim::fixed));
            Some(vec![s[0].clone(), rest.map_or(Dim::Unknown, Dim::Fixed)])
        }
        Some(_) => None,
        // Whatever the input, a flatten gives [batch, features] (the next layer may say how many).
        None => Some(vec![Dim::Named("batch".into()), Dim::Unknown]),
    };
    Ok(cx.op(&l.origin, "Flatten", &[x], vec![("axis", Attr::Int(1))], s))
}

pub(super) fn reshape(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<ValueId> {
    let target = l.get("target_shape").ok_or_else(|| LowerError {
        message: format!("{} has no `target_shape`", l.what()),
        at: Some(l.node.span),
    })?;
    let dims: Vec<i64> = target
        .as_list()
        .and_then(|v| {
            v.iter()
                .map(|d| if d.is_null() { Some(-1) } else { d.as_i64() })
                .collect()
        })
        .ok_or_else(|| LowerError {
            message: format!("{}: `target_shape` must be a list of integers", l.what()),
            at: Some(target.span),
        })?;
    let in_shape = cx.shape(x);
    let batch = in_shape
        .as_ref()
        .and_then(|s| s.first().cloned())
        .unwrap_or(Dim::Unknown);
    let total: Option<u64> = in_shape
        .as_ref()
        .and_then(|s| s.get(1..).map(|r| product(r.iter().map(Dim::fixed))))
        .flatten();
    let known = product(dims.iter().filter(|&&d| d > 0).map(|&d| Some(d as u64))).unwrap_or(0);
    let mut out = vec![batch];
    for &d in &dims {
        out.push(match d {
            d if d >= 0 => Dim::Fixed(d as u64),
            _ => match total {
                Some(t) if known > 0 && t % known == 0 => Dim::Fixed(t / known),
                _ => Dim::Unknown,
            },
        });
    }
    let mut spec = vec![0];
    spec.extend(dims);
    let shape_const = cx.const_i64(&l.path, "shape", spec);
    Ok(cx.op(&l.origin, "Reshape", &[x, shape_const], vec![], Some(out)))
}

pub(super) fn permute(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<ValueId> {
    let dims = l
        .get("dims")
        .and_then(Node::as_list)
        .and_then(|v| v.iter().map(Node::as_i64).collect::<Option<Vec<i64>>>())
        .ok_or_else(|| LowerError {
            message: format!("{}: `dims` must be a list of integers", l.what()),
            at: Some(l.node.span),
        })?;
    let mut perm = vec![0];
    perm.extend(dims);
    let s = cx.shape(x).and_then(|s| permuted(&s, &perm));
    Ok(cx.op(
        &l.origin,
        "Transpose",
        &[x],
        vec![("perm", ints_attr(&perm))],
        s,
    ))
}

pub(super) fn permuted(s: &Shape, perm: &[i64]) -> Option<Shape> {
    if perm.len() != s.len() {
        return None;
    }
    perm.iter()
        .map(|&p| usize::try_from(p).ok().and_then(|p| s.get(p).cloned()))
        .collect()
}

pub(super) fn upsampling(cx: &mut Cx, l: &Layer, x: ValueId, n: usize) -> Result<ValueId> {
    let size = positive_list(l, "size", n, Some(2))?;
    let last = channels_last(l)?;
    let bilinear = l.string("interpolation")?.is_some_and(|i| i == "bilinear");
    let s = cx.shape(x).filter(|s| s.len() == n + 2);
    let first_spatial = if last { 1 } else { 2 };
    let mut scales = vec![1.0f32; n + 2];
    for i in 0..n {
        scales[first_spatial + i] = size[i] as f32;
    }
    let out = s.map(|mut s| {
        for i in 0..n {
            let d = &mut s[first_spatial + i];
            *d = d.fixed().map_or(Dim::Unknown, |v| {
                v.checked_mul(size[i]).map_or(Dim::Unknown, Dim::Fixed)
            });
        }
        s
    });
    let scales_const = cx.const_f32(&l.path, "scales", vec![(n + 2) as i64], scales);
    let attrs = if bilinear {
        vec![
            ("mode", str_attr("linear")),
            ("coordinate_transformation_mode", str_attr("half_pixel")),
        ]
    } else {
        vec![
            ("mode", str_attr("nearest")),
            ("coordinate_transformation_mode", str_attr("asymmetric")),
            ("nearest_mode", str_attr("floor")),
        ]
    };
    Ok(cx.ops(
        &l.origin,
        "",
        "Resize",
        vec![Some(x), None, Some(scales_const)],
        attrs,
        vec![out],
    )[0])
}

/// `padding`/`cropping` in any of Keras's forms: `p`, `[a, b]`, `[[top, bottom], [left, right]]`.
pub(super) fn edges(l: &Layer, key: &str, n: usize) -> Result<Vec<(u64, u64)>> {
    let node = l.get(key);
    let bad = || LowerError {
        message: format!(
            "{}: `{key}` must be an integer, a list of integers or a list of pairs",
            l.what()
        ),
        at: node.map(|n| n.span),
    };
    let Some(node) = node else {
        return Ok(vec![(1, 1); n]);
    };
    let nonneg = |v: i64| u64::try_from(v).map_err(|_| bad());
    if let Some(v) = node.as_i64() {
        let v = nonneg(v)?;
        return Ok(vec![(v, v); n]);
    }
    let list = node.as_list().ok_or_else(bad)?;
    if n == 1 && list.len() == 2 && list.iter().all(|x| x.as_i64().is_some()) {
        return Ok(vec![(
            nonneg(list[0].as_i64().unwrap_or(0))?,
            nonneg(list[1].as_i64().unwrap_or(0))?,
        )]);
    }
    if list.len() != n {
        return Err(bad());
    }
    list.iter()
        .map(|item| match (item.as_i64(), item.as_list()) {
            (Some(v), _) => nonneg(v).map(|v| (v, v)),
            (None, Some([a, b])) => Ok((
                nonneg(a.as_i64().ok_or_else(bad)?)?,
                nonneg(b.as_i64().ok_or_else(bad)?)?,
            )),
            _ => Err(bad()),
        })
        .collect()
}

pub(super) fn zero_padding(cx: &mut Cx, l: &Layer, x: ValueId, n: usize) -> Result<ValueId> {
    let e = edges(l, "padding", n)?;
    let first = if channels_last(l)? { 1 } else { 2 };
    let rank = n + 2;
    let mut pads = vec![0i64; 2 * rank];
    for (i, &(b, a)) in e.iter().enumerate() {
        pads[first + i] = b as i64;
        pads[rank + first + i] = a as i64;
    }
    let s = cx.shape(x).filter(|s| s.len() == rank).map(|mut s| {
        for (i, &(b, a)) in e.iter().enumerate() {
            let d = &mut s[first + i];
            *d = d.fixed().map_or(Dim::Unknown, |v| {
                v.checked_add(b)
                    .and_then(|v| v.checked_add(a))
                    .map_or(Dim::Unknown, Dim::Fixed)
            });
        }
        s
    });
    let p = cx.const_i64(&l.path, "pads", pads);
    Ok(cx.op(
        &l.origin,
        "Pad",
        &[x, p],
        vec![("mode", str_attr("constant"))],
        s,
    ))
}

pub(super) fn cropping(cx: &mut Cx, l: &Layer, x: ValueId, n: usize) -> Result<ValueId> {
    let e = edges(l, "cropping", n)?;
    let first = if channels_last(l)? { 1 } else { 2 };
    let starts: Vec<i64> = e.iter().map(|&(b, _)| b as i64).collect();
    let ends: Vec<i64> = e
        .iter()
        .map(|&(_, a)| if a == 0 { i64::MAX } else { -(a as i64) })
        .collect();
    let axes: Vec<i64> = (0..n).map(|i| (first + i) as i64).collect();
    let s = cx.shape(x).filter(|s| s.len() == n + 2).map(|mut s| {
        for (i, &(b, a)) in e.iter().enumerate() {
            let d = &mut s[first + i];
            *d = d
                .fixed()
                .and_then(|v| v.checked_sub(a.saturating_add(b)))
                .map_or(Dim::Unknown, Dim::Fixed);
        }
        s
    });
    let st = cx.const_i64(&l.path, "starts", starts);
    let en = cx.const_i64(&l.path, "ends", ends);
    let ax = cx.const_i64(&l.path, "axes", axes);
    Ok(cx.op(&l.origin, "Slice", &[x, st, en, ax], vec![], s))
}
