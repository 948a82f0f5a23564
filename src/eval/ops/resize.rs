//! Resize (opset 10+) and Upsample: nearest, linear and cubic interpolation, applied one axis at a time
//! (all three are separable, so this equals the N-dimensional definitions).

use ndarray::{ArrayD, Axis};

use super::{Ctx, int_values, norm_axes};
use crate::eval::tensor::{Float, same};
use crate::eval::{EvalError, Tensor, show_shape};

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Nearest,
    Linear,
    Cubic,
}

/// How output index `o` maps to an input coordinate.
#[derive(Clone, Copy, PartialEq)]
enum Coord {
    HalfPixel,
    PytorchHalfPixel,
    AlignCorners,
    Asymmetric,
    HalfPixelSymmetric,
}

#[derive(Clone, Copy, PartialEq)]
enum Round {
    PreferFloor,
    PreferCeil,
    Floor,
    Ceil,
}

struct Plan {
    mode: Mode,
    coord: Coord,
    round: Round,
    cubic_a: f64,
    exclude_outside: bool,
    /// Per axis: output size and the scale used to map coordinates.
    axes: Vec<(usize, f64)>,
}

pub(super) fn resize(cx: &Ctx) -> Result<Vec<Tensor>, EvalError> {
    let x = cx.input(0, "X")?;
    let out = float_op!(x, "input X", a => resize_t(cx, a)?);
    Ok(vec![out])
}

fn resize_t<T: Float>(cx: &Ctx, x: &ArrayD<T>) -> Result<Tensor, EvalError> {
    let plan = plan(cx, x.shape())?;
    let out_shape: Vec<usize> = plan.axes.iter().map(|&(n, _)| n).collect();
    cx.limits.check(&out_shape, "the output")?;
    let mut cur = x.to_owned();
    for (ax, &(out_len, scale)) in plan.axes.iter().enumerate() {
        let in_len = cur.len_of(Axis(ax));
        if out_len == in_len && scale == 1.0 {
            continue;
        }
        let taps: Vec<Vec<(usize, f64)>> = (0..out_len)
            .map(|o| taps(&plan, o, in_len, out_len, scale))
            .collect();
        let mut shape = cur.shape().to_vec();
        shape[ax] = out_len;
        cx.limits.check(&shape, "an intermediate result")?;
        let mut next = ArrayD::from_elem(shape, T::ZERO);
        for (src, mut dst) in cur
            .lanes(Axis(ax))
            .into_iter()
            .zip(next.lanes_mut(Axis(ax)))
        {
            for (d, row) in dst.iter_mut().zip(&taps) {
                *d = row.iter().fold(T::ZERO, |acc, &(i, w)| {
                    acc + src.get(i).copied().unwrap_or(T::ZERO) * T::from_f64(w)
                });
            }
        }
        cur = next;
    }
    Ok(T::wrap(cur))
}

fn unsupported(attr: &str, value: &str) -> EvalError {
    EvalError::Unsupported {
        op: format!("Resize with {attr}={value}"),
    }
}

fn plan(cx: &Ctx, shape: &[usize]) -> Result<Plan, EvalError> {
    let rank = shape.len();
    let upsample = cx.kind() == "Upsample";
    let mode = match cx.string("mode", "nearest") {
        "nearest" => Mode::Nearest,
        "linear" | "bilinear" | "trilinear" => Mode::Linear,
        "cubic" | "bicubic" => Mode::Cubic,
        other => return Err(unsupported("mode", other)),
    };
    let coord = if upsample || cx.opset < 11 {
        Coord::Asymmetric
    } else {
        match cx.string("coordinate_transformation_mode", "half_pixel") {
            "half_pixel" => Coord::HalfPixel,
            "pytorch_half_pixel" => Coord::PytorchHalfPixel,
            "align_corners" => Coord::AlignCorners,
            "asymmetric" => Coord::Asymmetric,
            "half_pixel_symmetric" => Coord::HalfPixelSymmetric,
            other => {
                return Err(unsupported("coordinate_transformation_mode", other));
            }
        }
    };
    let round = if upsample || cx.opset < 11 {
        Round::Floor
    } else {
        match cx.string("nearest_mode", "round_prefer_floor") {
            "round_prefer_floor" => Round::PreferFloor,
            "round_prefer_ceil" => Round::PreferCeil,
            "floor" => Round::Floor,
            "ceil" => Round::Ceil,
            other => {
                return Err(EvalError::Attr(format!(
                    "nearest_mode '{other}' is not one ONNX defines"
                )));
            }
        }
    };
    if cx.int("antialias", 0) != 0 {
        return Err(unsupported("antialias", "1"));
    }
    let (scales, sizes) = scales_and_sizes(cx, upsample)?;
    let axes: Vec<usize> = match cx.ints("axes") {
        Some(a) => norm_axes(a, rank, "axis")?,
        None => (0..rank).collect(),
    };
    let mut plan_axes: Vec<(usize, f64)> = shape.iter().map(|&d| (d, 1.0)).collect();
    if let Some(sizes) = sizes {
        if sizes.len() != axes.len() {
            return Err(EvalError::Shape(format!(
                "sizes has {} values for {} axes",
                sizes.len(),
                axes.len()
            )));
        }
        let policy = cx.string("keep_aspect_ratio_policy", "stretch");
        let ratios: Vec<f64> = axes
            .iter()
            .zip(&sizes)
            .map(|(&ax, &s)| s as f64 / shape[ax].max(1) as f64)
            .collect();
        let common = match policy {
            "stretch" => None,
            "not_larger" => ratios.iter().copied().reduce(f64::min),
            "not_smaller" => ratios.iter().copied().reduce(f64::max),
            other => {
                return Err(EvalError::Attr(format!(
                    "keep_aspect_ratio_policy '{other}' is not one ONNX defines"
                )));
            }
        };
        for ((&ax, &s), &r) in axes.iter().zip(&sizes).zip(&ratios) {
            let size = usize::try_from(s)
                .map_err(|_| EvalError::Shape(format!("sizes has a negative value {s}")))?;
            plan_axes[ax] = match common {
                None => (size, r),
                Some(c) => ((c * shape[ax] as f64).round() as usize, c),
            };
        }
    } else if let Some(scales) = scales {
        if scales.len() != axes.len() {
            return Err(EvalError::Shape(format!(
                "scales has {} values for {} axes of input {}",
                scales.len(),
                axes.len(),
                show_shape(shape)
            )));
        }
        for (&ax, &s) in axes.iter().zip(&scales) {
            if !(s > 0.0 && s.is_finite()) {
                return Err(EvalError::Attr(format!(
                    "scale {s} is not a positive number"
                )));
            }
            let out = (shape[ax] as f64 * s).floor();
            if out > cx.limits.max_elements as f64 {
                return Err(EvalError::Limit(format!(
                    "scale {s} makes axis {ax} larger than the limit of {} elements",
                    cx.limits.max_elements
                )));
            }
            plan_axes[ax] = (out as usize, s);
        }
    } else {
        return Err(EvalError::Attr("neither scales nor sizes is given".into()));
    }
    Ok(Plan {
        mode,
        coord,
        round,
        cubic_a: cx.float("cubic_coeff_a", -0.75),
        exclude_outside: cx.int("exclude_outside", 0) != 0,
        axes: plan_axes,
    })
}

type ScalesSizes = (Option<Vec<f64>>, Option<Vec<i64>>);

fn scales_and_sizes(cx: &Ctx, upsample: bool) -> Result<ScalesSizes, EvalError> {
    let float_list = |t: &Tensor| -> Result<Vec<f64>, EvalError> {
        let a: &ArrayD<f32> = same(t, "input scales")?;
        Ok(a.iter().map(|&v| f64::from(v)).collect())
    };
    if upsample && cx.opset < 9 {
        let s = cx
            .op
            .attrs
            .get("scales")
            .and_then(|a| match a {
                crate::ir::Attr::Floats(v) => Some(v.iter().map(|&f| f64::from(f)).collect()),
                _ => None,
            })
            .ok_or_else(|| EvalError::Attr("attribute scales is missing".into()))?;
        return Ok((Some(s), None));
    }
    if upsample || cx.opset < 11 {
        return Ok((Some(float_list(cx.input(1, "scales")?)?), None));
    }
    let scales = cx
        .opt(2)
        .filter(|t| !t.is_empty())
        .map(float_list)
        .transpose()?;
    let sizes = cx
        .opt(3)
        .filter(|t| !t.is_empty())
        .map(|t| int_values(t, "input sizes"))
        .transpose()?;
    Ok((scales, sizes))
}

/// Input indices and weights that make output index `o` along one axis.
fn taps(p: &Plan, o: usize, in_len: usize, out_len: usize, scale: f64) -> Vec<(usize, f64)> {
    if in_len == 0 {
        return Vec::new();
    }
    let last = (in_len - 1) as f64;
    let of = o as f64;
    let x = match p.coord {
        Coord::HalfPixel => (of + 0.5) / scale - 0.5,
        Coord::PytorchHalfPixel if out_len > 1 => (of + 0.5) / scale - 0.5,
        Coord::PytorchHalfPixel => 0.0,
        Coord::AlignCorners if out_len > 1 => of * last / (in_len as f64 * scale - 1.0),
        Coord::AlignCorners => 0.0,
        Coord::Asymmetric => of / scale,
        Coord::HalfPixelSymmetric => {
            let adjustment = out_len as f64 / (scale * in_len as f64);
            let offset = in_len as f64 / 2.0 * (1.0 - adjustment);
            offset + (of + 0.5) / scale - 0.5
        }
    };
    let clamp = |i: f64| i.clamp(0.0, last) as usize;
    match p.mode {
        Mode::Nearest => {
            let r = match p.round {
                Round::Floor => x.floor(),
                Round::Ceil => x.ceil(),
                Round::PreferFloor if x.fract() == 0.5 => x.floor(),
                Round::PreferCeil if x.fract() == 0.5 => x.ceil(),
                _ => x.round(),
            };
            vec![(clamp(r), 1.0)]
        }
        Mode::Linear => {
            let x = x.clamp(0.0, last);
            let i0 = x.floor();
            let w = x - i0;
            vec![(clamp(i0), 1.0 - w), (clamp(i0 + 1.0), w)]
        }
        Mode::Cubic => {
            let i0 = x.floor();
            let t = x - i0;
            let a = p.cubic_a;
            let kernel = |d: f64| {
                let d = d.abs();
                if d <= 1.0 {
                    ((a + 2.0) * d - (a + 3.0)) * d * d + 1.0
                } else if d < 2.0 {
                    ((a * d - 5.0 * a) * d + 8.0 * a) * d - 4.0 * a
                } else {
                    0.0
                }
            };
            let mut taps: Vec<(usize, f64, bool)> = (-1..=2)
                .map(|k| {
                    let i = i0 + f64::from(k);
                    (
                        clamp(i),
                        kernel(t - f64::from(k)),
                        (0.0..=last).contains(&i),
                    )
                })
                .collect();
            if p.exclude_outside {
                let total: f64 = taps.iter().filter(|t| t.2).map(|t| t.1).sum();
                for t in &mut taps {
                    t.1 = if t.2 && total != 0.0 {
                        t.1 / total
                    } else {
                        0.0
                    };
                }
            }
            taps.into_iter().map(|(i, w, _)| (i, w)).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use crate::eval::Tensor;
    use crate::ir::Attr;

    fn empty() -> Tensor {
        f32t(&[0], &[])
    }

    #[test]
    fn nearest_upsampling_by_scales() {
        let x = f32t(&[1, 1, 2, 2], &[1.0, 2.0, 3.0, 4.0]);
        let scales = f32t(&[4], &[1.0, 1.0, 2.0, 2.0]);
        let r = op(
            "Resize",
            3,
            1,
            vec![
                ("mode", Attr::String("nearest".into())),
                (
                    "coordinate_transformation_mode",
                    Attr::String("asymmetric".into()),
                ),
                ("nearest_mode", Attr::String("floor".into())),
            ],
        );
        let got = eval1(&r, &[&x, &empty(), &scales], 13);
        let want = [
            1.0, 1.0, 2.0, 2.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0, 3.0, 3.0, 4.0, 4.0,
        ];
        assert_close(&got, &[1, 1, 4, 4], &want, 0.0);
        // Opset 10 takes scales as input 1.
        let r10 = op("Resize", 2, 1, vec![]);
        assert_close(&eval1(&r10, &[&x, &scales], 10), &[1, 1, 4, 4], &want, 0.0);
    }

    #[test]
    fn linear_half_pixel_and_align_corners_by_sizes() {
        let x = f32t(&[1, 1, 1, 2], &[0.0, 4.0]);
        let sizes = i64t(&[4], &[1, 1, 1, 4]);
        let lin = op(
            "Resize",
            4,
            1,
            vec![("mode", Attr::String("linear".into()))],
        );
        // half_pixel: x = (o + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25 -> clamped.
        let got = eval1(&lin, &[&x, &empty(), &empty(), &sizes], 13);
        assert_close(&got, &[1, 1, 1, 4], &[0.0, 1.0, 3.0, 4.0], 1e-6);
        let ac = op(
            "Resize",
            4,
            1,
            vec![
                ("mode", Attr::String("linear".into())),
                (
                    "coordinate_transformation_mode",
                    Attr::String("align_corners".into()),
                ),
            ],
        );
        let got = eval1(&ac, &[&x, &empty(), &empty(), &sizes], 13);
        assert_close(&got, &[1, 1, 1, 4], &[0.0, 4.0 / 3.0, 8.0 / 3.0, 4.0], 1e-6);
    }

    #[test]
    fn cubic_keeps_constant_signals_and_upsample_is_nearest() {
        let x = f32t(&[1, 4], &[2.0, 2.0, 2.0, 2.0]);
        let scales = f32t(&[2], &[1.0, 2.0]);
        let cubic = op("Resize", 3, 1, vec![("mode", Attr::String("cubic".into()))]);
        let got = eval1(&cubic, &[&x, &empty(), &scales], 13);
        assert_close(&got, &[1, 8], &[2.0; 8], 1e-6);
        let up = op("Upsample", 2, 1, vec![]);
        let x = f32t(&[1, 2], &[1.0, 2.0]);
        assert_close(
            &eval1(&up, &[&x, &scales], 9),
            &[1, 4],
            &[1.0, 1.0, 2.0, 2.0],
            0.0,
        );
    }
}
