//! Convolutions (regular, depthwise, separable, transposed) and pooling: channels-last layers become
//! the channels-first ONNX op between two `Transpose`s.

use super::*;

pub(super) fn to_channels_first(cx: &mut Cx, l: &Layer, x: ValueId, n: usize) -> ValueId {
    let mut perm = vec![0, n as i64 + 1];
    perm.extend(1..=n as i64);
    let s = cx.shape(x).and_then(|s| permuted(&s, &perm));
    cx.op(
        &l.origin,
        "Transpose",
        &[x],
        vec![("perm", ints_attr(&perm))],
        s,
    )
}

pub(super) fn to_channels_last(cx: &mut Cx, l: &Layer, x: ValueId, n: usize) -> ValueId {
    let mut perm = vec![0];
    perm.extend(2..=n as i64 + 1);
    perm.push(1);
    let s = cx.shape(x).and_then(|s| permuted(&s, &perm));
    cx.op(
        &l.origin,
        "Transpose",
        &[x],
        vec![("perm", ints_attr(&perm))],
        s,
    )
}

pub(super) fn channels_last(l: &Layer) -> Result<bool> {
    Ok(l.string("data_format")?
        .is_none_or(|f| f != "channels_first"))
}

#[derive(Clone, Copy, PartialEq)]
pub(super) enum ConvKind {
    Regular,
    Depthwise,
    Separable,
    Transpose,
}

pub(super) fn positive_list(
    l: &Layer,
    key: &str,
    n: usize,
    default: Option<i64>,
) -> Result<Vec<u64>> {
    let v = match (l.ints(key, n)?, default) {
        (Some(v), _) => v,
        (None, Some(d)) => vec![d; n],
        (None, None) => {
            return fail(format!("{} has no `{key}`", l.what()), Some(l.node.span));
        }
    };
    v.into_iter()
        .map(|x| u64::try_from(x).ok().filter(|&x| x > 0 && x <= MAX_SIZE))
        .collect::<Option<Vec<u64>>>()
        .ok_or_else(|| LowerError {
            message: format!(
                "{}: `{key}` must hold positive integers up to 2^31",
                l.what()
            ),
            at: l.get(key).map(|n| n.span),
        })
}

/// Keras's output length of a convolution or pooling window.
pub(super) fn window_len(n: &Dim, k: u64, s: u64, d: u64, padding: &str) -> Dim {
    let Dim::Fixed(n) = n else {
        return Dim::Unknown;
    };
    let eff = d.saturating_mul(k - 1).saturating_add(1);
    match padding {
        "same" | "causal" => Dim::Fixed(n.div_ceil(s)),
        _ if *n >= eff => Dim::Fixed((n - eff) / s + 1),
        _ => Dim::Unknown,
    }
}

pub(super) fn padding_attrs(
    l: &Layer,
    padding: &str,
    kernel: &[u64],
    dil: &[u64],
) -> Result<Vec<(&'static str, Attr)>> {
    Ok(match padding {
        "valid" => vec![],
        "same" => vec![("auto_pad", str_attr("SAME_UPPER"))],
        "causal" => {
            let mut pads: Vec<i64> = kernel
                .iter()
                .zip(dil)
                .map(|(&k, &d)| ((k - 1) * d) as i64)
                .collect();
            pads.extend(std::iter::repeat_n(0, kernel.len()));
            vec![("pads", ints_attr(&pads))]
        }
        other => {
            return fail(
                format!(
                    "{}: padding `{other}` is not one of valid, same, causal",
                    l.what()
                ),
                l.get("padding").map(|n| n.span),
            );
        }
    })
}

pub(super) fn conv(
    cx: &mut Cx,
    l: &Layer,
    x: ValueId,
    n: usize,
    kind: ConvKind,
) -> Result<ValueId> {
    let last = channels_last(l)?;
    let s = cx.shape(x);
    if let Some(s) = &s
        && s.len() != n + 2
    {
        return fail(
            format!(
                "{} expects a rank-{} input, got shape {}",
                l.what(),
                n + 2,
                crate::ir::shape_to_string(Some(s))
            ),
            Some(l.node.span),
        );
    }
    let kernel = positive_list(l, "kernel_size", n, None)?;
    let strides = positive_list(l, "strides", n, Some(1))?;
    let dil = positive_list(l, "dilation_rate", n, Some(1))?;
    let padding = l.string("padding")?.unwrap_or("valid").to_ascii_lowercase();
    let groups = positive_one(l, "groups")?;
    let use_bias = l.flag("use_bias", true)?;
    let (batch, cin, spatial) = match &s {
        Some(s) if last => (s[0].clone(), s[n + 1].fixed(), s[1..=n].to_vec()),
        Some(s) => (s[0].clone(), s[1].fixed(), s[2..].to_vec()),
        None => (Dim::Unknown, None, vec![Dim::Unknown; n]),
    };
    let k64: Vec<i64> = kernel.iter().map(|&k| k as i64).collect();
    let transpose = kind == ConvKind::Transpose;
    let out_spatial: Vec<Dim> = (0..n)
        .map(|i| {
            if transpose {
                transpose_len(&spatial[i], kernel[i], strides[i], dil[i], &padding)
            } else {
                window_len(&spatial[i], kernel[i], strides[i], dil[i], &padding)
            }
        })
        .collect();
    let shape_first = |c: Option<u64>| -> Option<Shape> {
        let mut v = vec![batch.clone(), c.map_or(Dim::Unknown, Dim::Fixed)];
        v.extend(out_spatial.iter().cloned());
        Some(v)
    };
    let xc = if last {
        to_channels_first(cx, l, x, n)
    } else {
        x
    };
    let mut attrs = vec![
        ("kernel_shape", ints_attr(&k64)),
        (
            "strides",
            ints_attr(&strides.iter().map(|&v| v as i64).collect::<Vec<_>>()),
        ),
        (
            "dilations",
            ints_attr(&dil.iter().map(|&v| v as i64).collect::<Vec<_>>()),
        ),
    ];
    let o = &l.origin;
    let y = match kind {
        ConvKind::Regular => {
            let filters = l.positive("filters")?;
            attrs.extend(padding_attrs(l, &padding, &kernel, &dil)?);
            attrs.push(("group", Attr::Int(groups as i64)));
            let mut wd = vec![Some(filters), cin.map(|c| c / groups)];
            wd.extend(kernel.iter().map(|&k| Some(k)));
            let w = cx.weight(&l.path, "kernel", &wd);
            let mut ins = vec![xc, w];
            if use_bias {
                ins.push(cx.weight(&l.path, "bias", &[Some(filters)]));
            }
            cx.op(o, "Conv", &ins, attrs, shape_first(Some(filters)))
        }
        ConvKind::Depthwise | ConvKind::Separable => {
            let dm = positive_one(l, "depth_multiplier")?;
            let Some((c, cdm)) = cin.and_then(|c| Some((c, c.checked_mul(dm)?))) else {
                let shape = s.map(|_| vec![Dim::Unknown; n + 2]);
                return Ok(cx.opaque(o, l.class, &[x], vec![], vec![shape])[0]);
            };
            attrs.extend(padding_attrs(l, &padding, &kernel, &dil)?);
            attrs.push(("group", Attr::Int(c as i64)));
            let mut wd = vec![Some(cdm), Some(1)];
            wd.extend(kernel.iter().map(|&k| Some(k)));
            let w = cx.weight(&l.path, "depthwise_kernel", &wd);
            let mut ins = vec![xc, w];
            if kind == ConvKind::Depthwise && use_bias {
                ins.push(cx.weight(&l.path, "bias", &[Some(cdm)]));
            }
            let dw = cx.op(o, "Conv", &ins, attrs, shape_first(Some(cdm)));
            if kind == ConvKind::Depthwise {
                dw
            } else {
                let filters = l.positive("filters")?;
                let mut pd = vec![Some(filters), Some(cdm)];
                pd.extend(std::iter::repeat_n(Some(1), n));
                let pw = cx.weight(&l.path, "pointwise_kernel", &pd);
                let mut ins = vec![dw, pw];
                if use_bias {
                    ins.push(cx.weight(&l.path, "bias", &[Some(filters)]));
                }
                let ones = vec![1i64; n];
                cx.op(
                    o,
                    "Conv",
                    &ins,
                    vec![
                        ("kernel_shape", ints_attr(&ones)),
                        ("strides", ints_attr(&ones)),
                    ],
                    shape_first(Some(filters)),
                )
            }
        }
        ConvKind::Transpose => {
            let filters = l.positive("filters")?;
            let out_pad = l.ints("output_padding", n)?;
            match (&out_pad, padding.as_str()) {
                (None, "same") => attrs.push(("auto_pad", str_attr("SAME_UPPER"))),
                (None, "valid") => {
                    let extra: Vec<i64> = (0..n)
                        .map(|i| {
                            let eff = dil[i] * (kernel[i] - 1) + 1;
                            strides[i].saturating_sub(eff) as i64
                        })
                        .collect();
                    attrs.push(("output_padding", ints_attr(&extra)));
                }
                (Some(p), "same" | "valid") => {
                    let mut pads: Vec<i64> = (0..n)
                        .map(|i| {
                            let eff = dil[i] * (kernel[i] - 1) + 1;
                            if padding == "same" {
                                (eff / 2) as i64
                            } else {
                                0
                            }
                        })
                        .collect();
                    pads.extend(pads.clone());
                    attrs.push(("pads", ints_attr(&pads)));
                    attrs.push(("output_padding", ints_attr(p)));
                }
                _ => {
                    return fail(
                        format!(
                            "{}: padding `{padding}` is not one of valid, same",
                            l.what()
                        ),
                        l.get("padding").map(|n| n.span),
                    );
                }
            }
            attrs.push(("group", Attr::Int(groups as i64)));
            let mut wd = vec![cin, Some(filters / groups)];
            wd.extend(kernel.iter().map(|&k| Some(k)));
            let w = cx.weight(&l.path, "kernel", &wd);
            let mut ins = vec![xc, w];
            if use_bias {
                ins.push(cx.weight(&l.path, "bias", &[Some(filters)]));
            }
            let mut shape = shape_first(Some(filters));
            if let (Some(p), Some(sh)) = (&out_pad, shape.as_mut()) {
                for i in 0..n {
                    sh[i + 2] = match &spatial[i] {
                        Dim::Fixed(len) => {
                            let eff = dil[i] * (kernel[i] - 1) + 1;
                            let pad = if padding == "same" { eff / 2 } else { 0 };
                            len.saturating_sub(1)
                                .checked_mul(strides[i])
                                .and_then(|v| v.checked_add(eff))
                                .and_then(|v| v.checked_add(p[i].max(0) as u64))
                                .and_then(|v| v.checked_sub(2 * pad))
                                .map_or(Dim::Unknown, Dim::Fixed)
                        }
                        _ => Dim::Unknown,
                    };
                }
            }
            cx.op(o, "ConvTranspose", &ins, attrs, shape)
        }
    };
    let y = if last {
        to_channels_last(cx, l, y, n)
    } else {
        y
    };
    activation(cx, l, y, l.config.get("activation"))
}

pub(super) fn positive_one(l: &Layer, key: &str) -> Result<u64> {
    match l.int(key)? {
        None => Ok(1),
        Some(v) if v > 0 && v as u64 <= MAX_SIZE => Ok(v as u64),
        Some(_) => fail(
            format!(
                "{}: `{key}` must be a positive integer up to 2^31",
                l.what()
            ),
            l.get(key).map(|n| n.span),
        ),
    }
}

pub(super) fn transpose_len(n: &Dim, k: u64, s: u64, d: u64, padding: &str) -> Dim {
    let Dim::Fixed(n) = n else {
        return Dim::Unknown;
    };
    let eff = d.saturating_mul(k - 1).saturating_add(1);
    match padding {
        "same" => n.checked_mul(s).map_or(Dim::Unknown, Dim::Fixed),
        _ => n
            .checked_mul(s)
            .and_then(|v| v.checked_add(eff.saturating_sub(s)))
            .map_or(Dim::Unknown, Dim::Fixed),
    }
}

pub(super) fn pool(cx: &mut Cx, l: &Layer, x: ValueId, n: usize, max: bool) -> Result<ValueId> {
    let last = channels_last(l)?;
    let s = cx.shape(x).filter(|s| s.len() == n + 2);
    let size = positive_list(l, "pool_size", n, Some(2))?;
    let strides = match l.get("strides") {
        None => size.clone(),
        Some(_) => positive_list(l, "strides", n, None)?,
    };
    let padding = l.string("padding")?.unwrap_or("valid").to_ascii_lowercase();
    let mut attrs = vec![
        (
            "kernel_shape",
            ints_attr(&size.iter().map(|&v| v as i64).collect::<Vec<_>>()),
        ),
        (
            "strides",
            ints_attr(&strides.iter().map(|&v| v as i64).collect::<Vec<_>>()),
        ),
    ];
    attrs.extend(padding_attrs(l, &padding, &size, &vec![1; n])?);
    let first = if last {
        to_channels_first(cx, l, x, n)
    } else {
        x
    };
    let shape = cx.shape(first).filter(|_| s.is_some()).map(|sf| {
        let mut out = sf[..2].to_vec();
        for i in 0..n {
            out.push(window_len(&sf[i + 2], size[i], strides[i], 1, &padding));
        }
        out
    });
    let op = if max { "MaxPool" } else { "AveragePool" };
    let y = cx.op(&l.origin, op, &[first], attrs, shape);
    Ok(if last {
        to_channels_last(cx, l, y, n)
    } else {
        y
    })
}

pub(super) fn global_pool(
    cx: &mut Cx,
    l: &Layer,
    x: ValueId,
    n: usize,
    op: &str,
) -> Result<ValueId> {
    let last = channels_last(l)?;
    let keep = l.flag("keepdims", false)?;
    let axes: Vec<i64> = if last {
        (1..=n as i64).collect()
    } else {
        (2..n as i64 + 2).collect()
    };
    let s = cx.shape(x).filter(|s| s.len() == n + 2).map(|s| {
        s.into_iter()
            .enumerate()
            .filter_map(|(i, d)| match (axes.contains(&(i as i64)), keep) {
                (false, _) => Some(d),
                (true, true) => Some(Dim::Fixed(1)),
                (true, false) => None,
            })
            .collect()
    });
    Ok(cx.op(
        &l.origin,
        op,
        &[x],
        vec![
            ("axes", ints_attr(&axes)),
            ("keepdims", Attr::Int(i64::from(keep))),
        ],
        s,
    ))
}
