//! Sequences: `LSTM`, `GRU`, `SimpleRNN` (ops in the `keras` domain with Keras's shapes),
//! `Bidirectional`, `TimeDistributed`.

use super::*;

pub(super) fn rnn_shapes(
    l: &Layer,
    s: &Option<Shape>,
    units: u64,
    width: u64,
) -> Result<(Option<Shape>, Option<Shape>, usize)> {
    let seq = l.flag("return_sequences", false)?;
    let states = match l.class {
        "LSTM" | "CuDNNLSTM" => 2,
        _ => 1,
    };
    let batch = s
        .as_ref()
        .and_then(|s| s.first().cloned())
        .unwrap_or(Dim::Unknown);
    let time = s
        .as_ref()
        .and_then(|s| s.get(1).cloned())
        .unwrap_or(Dim::Unknown);
    let out = if seq {
        vec![batch.clone(), time, Dim::Fixed(width)]
    } else {
        vec![batch.clone(), Dim::Fixed(width)]
    };
    let state = vec![batch, Dim::Fixed(units)];
    Ok((Some(out), Some(state), states))
}

pub(super) fn recurrent(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<Vec<ValueId>> {
    let units = l.positive("units")?;
    let s = cx.shape(x);
    let (out, state, states) = rnn_shapes(l, &s, units, units)?;
    let mut shapes = vec![out];
    if l.flag("return_state", false)? {
        shapes.extend(std::iter::repeat_n(state, states));
    }
    let attrs = vec![("units", Attr::Int(units as i64))];
    Ok(cx.opaque(&l.origin, l.class, &[x], attrs, shapes))
}

pub(super) fn bidirectional(
    cx: &mut Cx,
    l: &Layer,
    x: ValueId,
    inputs: &[ValueId],
) -> Result<Vec<ValueId>> {
    let inner_node = l.get("layer").ok_or_else(|| LowerError {
        message: format!("{} has no `layer`", l.what()),
        at: Some(l.node.span),
    })?;
    let inner = l.inner(inner_node)?;
    let units = inner.positive("units")?;
    // A missing `merge_mode` means Keras's default, "concat"; an explicit null means two outputs.
    let merge = match l.config.get("merge_mode") {
        None => Some("concat"),
        Some(m) if m.is_null() => None,
        Some(m) => Some(m.as_str().ok_or_else(|| LowerError {
            message: format!("{}: `merge_mode` must be a string or null", l.what()),
            at: Some(m.span),
        })?),
    };
    let width = if merge == Some("concat") {
        2 * units
    } else {
        units
    };
    let s = cx.shape(x);
    let (out, state, states) = rnn_shapes(&inner, &s, units, width)?;
    let mut shapes = vec![out.clone()];
    if merge.is_none() {
        shapes.push(out);
    }
    if inner.flag("return_state", false)? {
        shapes.extend(std::iter::repeat_n(state, 2 * states));
    }
    Ok(cx.opaque(
        &l.origin,
        l.class,
        inputs,
        vec![("units", Attr::Int(units as i64))],
        shapes,
    ))
}

pub(super) fn time_distributed(cx: &mut Cx, l: &Layer, x: ValueId) -> Result<ValueId> {
    let inner_node = l.get("layer").ok_or_else(|| LowerError {
        message: format!("{} has no `layer`", l.what()),
        at: Some(l.node.span),
    })?;
    let inner = l.inner(inner_node)?;
    let pointwise = match inner.class {
        "Dense" | "Activation" | "Dropout" | "ReLU" | "LeakyReLU" | "ELU"
        | "LayerNormalization" => true,
        "Softmax" | "BatchNormalization" => inner.int("axis").ok().flatten().unwrap_or(-1) < 0,
        _ => false,
    };
    if pointwise {
        let outs = dispatch(cx, &inner, &[x])?;
        return outs.first().copied().ok_or_else(|| no_input(l));
    }
    let s = cx.shape(x);
    let time = s.as_ref().and_then(|s| s.get(1)).and_then(Dim::fixed);
    let (Some(shape), Some(t)) = (s.clone(), time) else {
        return Ok(cx.opaque(&l.origin, l.class, &[x], vec![], vec![None])[0]);
    };
    let rest: Option<Vec<i64>> = shape[2..]
        .iter()
        .map(|d| d.fixed().map(|v| v as i64))
        .collect();
    let Some(rest) = rest else {
        return Ok(cx.opaque(&l.origin, l.class, &[x], vec![], vec![None])[0]);
    };
    let mut spec = vec![-1];
    spec.extend(&rest);
    let merged_shape: Shape = std::iter::once(Dim::Unknown)
        .chain(shape[2..].iter().cloned())
        .collect();
    let spec_const = cx.const_i64(&l.path, "merge_time", spec);
    let merged = cx.op(
        &l.origin,
        "Reshape",
        &[x, spec_const],
        vec![],
        Some(merged_shape),
    );
    let outs = dispatch(cx, &inner, &[merged])?;
    let y = *outs.first().ok_or_else(|| no_input(l))?;
    let out_rest: Option<Vec<u64>> = cx
        .shape(y)
        .and_then(|s| s.get(1..).map(|r| r.iter().map(Dim::fixed).collect()))
        .flatten();
    let Some(out_rest) = out_rest else {
        return Ok(cx.opaque(&l.origin, l.class, &[y], vec![], vec![None])[0]);
    };
    let mut back = vec![-1, t as i64];
    back.extend(out_rest.iter().map(|&v| v as i64));
    let mut out_shape = vec![shape[0].clone(), Dim::Fixed(t)];
    out_shape.extend(out_rest.into_iter().map(Dim::Fixed));
    let back_const = cx.const_i64(&l.path, "split_time", back);
    Ok(cx.op(
        &l.origin,
        "Reshape",
        &[y, back_const],
        vec![],
        Some(out_shape),
    ))
}
