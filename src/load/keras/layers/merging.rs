//! Layers of several inputs: `Add`, `Subtract`, `Multiply`, `Average`, `Maximum`, `Minimum`,
//! `Concatenate`.

use super::*;

/// Broadcast shape of a merge layer's inputs, by the one shape engine (`crate::shape::broadcast`).
pub(super) fn broadcast(shapes: &[Option<Shape>]) -> Option<Shape> {
    let mut acc: Shape = vec![];
    for s in shapes {
        acc = crate::shape::broadcast(&acc, s.as_ref()?)?;
    }
    Some(acc)
}

pub(super) fn merge(cx: &mut Cx, l: &Layer, inputs: &[ValueId]) -> Result<ValueId> {
    if inputs.is_empty() {
        return Err(no_input(l));
    }
    let shapes: Vec<Option<Shape>> = inputs.iter().map(|&v| cx.shape(v)).collect();
    let s = broadcast(&shapes);
    let o = &l.origin;
    let pairwise = |cx: &mut Cx, op: &str| -> ValueId {
        let mut acc = inputs[0];
        for &v in &inputs[1..] {
            acc = cx.op(o, op, &[acc, v], vec![], s.clone());
        }
        acc
    };
    let y = match l.class {
        "Add" if inputs.len() == 2 => cx.op(o, "Add", inputs, vec![], s),
        "Add" => cx.op(o, "Sum", inputs, vec![], s),
        "Subtract" if inputs.len() == 2 => cx.op(o, "Sub", inputs, vec![], s),
        "Subtract" => {
            return fail(
                format!(
                    "{} takes exactly two inputs, got {}",
                    l.what(),
                    inputs.len()
                ),
                Some(l.node.span),
            );
        }
        "Multiply" => pairwise(cx, "Mul"),
        "Average" => cx.op(o, "Mean", inputs, vec![], s),
        "Maximum" => cx.op(o, "Max", inputs, vec![], s),
        _ => cx.op(o, "Min", inputs, vec![], s),
    };
    Ok(y)
}

pub(super) fn concatenate(cx: &mut Cx, l: &Layer, inputs: &[ValueId]) -> Result<ValueId> {
    if inputs.is_empty() {
        return Err(no_input(l));
    }
    let axis = l.int("axis")?.unwrap_or(-1);
    let shapes: Option<Vec<Shape>> = inputs.iter().map(|&v| cx.shape(v)).collect();
    let s = shapes.and_then(|shapes| {
        let rank = shapes[0].len();
        if shapes.iter().any(|s| s.len() != rank) {
            return None;
        }
        let a = norm_axis(axis, rank)?;
        let mut out = shapes[0].clone();
        for i in 0..rank {
            if i == a {
                let total = shapes
                    .iter()
                    .try_fold(0u64, |acc, s| acc.checked_add(s[a].fixed()?));
                out[a] = total.map_or(Dim::Unknown, Dim::Fixed);
            } else if let Some(d) = shapes.iter().find_map(|s| s[i].fixed()) {
                out[i] = Dim::Fixed(d);
            }
        }
        Some(out)
    });
    Ok(cx.op(
        &l.origin,
        "Concat",
        inputs,
        vec![("axis", Attr::Int(axis))],
        s,
    ))
}
