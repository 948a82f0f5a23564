//! `nnlint eval`: runs the evaluator on a model and writes what it computed, so users can see the
//! numbers behind a finding and tests can compare them with onnxruntime.
//!
//! Whole-model mode feeds every graph input from a TensorProto file. `--head OUTPUT` runs only the
//! slice a numerical check runs ([`head`](super::head)), on the same seeded probes the linter draws.
//! Each output is summarised on stdout and, with `--output-dir`, written as `<output name>.pb` (a
//! TensorProto named like the output, in the output's element type); without it nothing is written. Errors are one line on stderr, exit code 2.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::tensor_file::{decode_tensor_proto, encode_tensor_proto};
use crate::analysis::num;
use crate::eval::{Head, Tensor, head, probes, run_typed};
use crate::ir::{DType, Dim, Model, ValueId, Weights};
use crate::rule::ProbeSettings;

/// Arguments of `nnlint eval`.
#[derive(clap::Args, Clone, Debug)]
pub struct EvalArgs {
    /// The model file (.onnx, or a Keras file: its weights are seeded when the file has none).
    pub model: PathBuf,
    /// A graph input's value as an ONNX TensorProto file (repeatable). Without `NAME=`, the name
    /// stored in the file picks the input.
    #[arg(long = "input", value_name = "NAME=FILE.pb")]
    pub inputs: Vec<String>,
    /// Write each output as `<output name>.pb` into this folder (created if missing); without it
    /// nothing is written.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Evaluate only the head of this graph output, on seeded probes (as the linter's checks do).
    #[arg(long, value_name = "OUTPUT", conflicts_with = "inputs")]
    pub head: Option<String>,
    /// Seed of the probes drawn for `--head` [default: the linter's].
    #[arg(long, requires = "head")]
    pub seed: Option<u64>,
}

/// Runs `nnlint eval`; returns the exit code (0, or 2 after printing one error line).
pub fn main(args: &EvalArgs) -> i32 {
    // An evaluator bug must not end in a backtrace: report it as an error line instead.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let result = std::panic::catch_unwind(|| eval_command(args));
    std::panic::set_hook(hook);
    let result = result.unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        Err(format!(
            "internal error in the evaluator ({what}); please report it"
        ))
    });
    match result {
        Ok(summary) => {
            print!("{summary}");
            0
        }
        Err(e) => {
            eprintln!("error: {}: {e}", args.model.display());
            2
        }
    }
}

/// Evaluates, writes the output files and returns the summary text.
fn eval_command(args: &EvalArgs) -> Result<String, String> {
    let model = crate::load::load(&args.model).map_err(|e| e.to_string())?;
    let settings = ProbeSettings::default();
    let g = &model.graph;
    let mut text = String::new();
    let (plan, feeds, outputs) = match &args.head {
        Some(name) => {
            let target = g
                .outputs
                .iter()
                .map(|o| o.value)
                .find(|&v| g.value(v).name == *name)
                .ok_or_else(|| {
                    format!(
                        "the model has no output named '{name}' (outputs: {})",
                        names(&model, g.outputs.iter().map(|o| o.value))
                    )
                })?;
            let seed = args.seed.unwrap_or(settings.seed);
            let plan = head(g, target);
            let rows = crate::eval::probe_rows(g, &plan, settings.count);
            let feeds = probes(g, &plan, rows, seed).map_err(|e| e.to_string())?;
            let shapes: Vec<String> = plan
                .probes
                .iter()
                .filter_map(|p| {
                    Some(format!(
                        "'{}' {:?}",
                        g.value(*p).name,
                        feeds.get(p)?.shape()
                    ))
                })
                .collect();
            let _ = writeln!(
                text,
                "head of '{name}': {} ops on seeded probes {} (seed {seed})",
                plan.ops.len(),
                shapes.join(", ")
            );
            (plan, feeds, vec![target])
        }
        None => {
            let feeds = read_inputs(&model, &args.inputs)?;
            let mut fed: Vec<ValueId> = feeds.keys().copied().collect();
            fed.sort();
            let plan = Head {
                ops: g.op_ids().collect(),
                probes: fed,
            };
            let _ = writeln!(
                text,
                "whole model: {} ops on {} given inputs",
                plan.ops.len(),
                feeds.len()
            );
            (plan, feeds, g.outputs.iter().map(|o| o.value).collect())
        }
    };
    if model.weights == Weights::Absent {
        let _ = writeln!(
            text,
            "weights: seeded Glorot-uniform values of the real shapes (the file has none)"
        );
    }
    let evaluated = run_typed(&model, &plan, feeds, &settings.limits).map_err(|e| e.to_string())?;

    if let Some(dir) = &args.output_dir {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create the output folder {}: {e}", dir.display()))?;
    }
    let mut taken = Vec::new();
    for id in outputs {
        let name = &g.value(id).name;
        let tensor = evaluated
            .values
            .get(&id)
            .ok_or_else(|| format!("output '{name}' was not computed"))?;
        let dtype = evaluated.dtypes.get(&id).copied().unwrap_or(tensor.dtype());
        let file = match &args.output_dir {
            Some(dir) => {
                let bytes = encode_tensor_proto(name, tensor, dtype)
                    .map_err(|e| format!("output '{name}': {e}"))?;
                let file = dir.join(unique(output_file_name(name), &mut taken));
                std::fs::write(&file, bytes)
                    .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
                Some(file)
            }
            None => None,
        };
        summarize(&mut text, name, dtype, tensor, file.as_deref());
    }
    Ok(text)
}

/// Feeds for every non-constant graph input from `--input` arguments, checked against the declared
/// types and fixed dims.
fn read_inputs(model: &Model, args: &[String]) -> Result<HashMap<ValueId, Tensor>, String> {
    let g = &model.graph;
    let limits = ProbeSettings::default().limits;
    let mut feeds = HashMap::new();
    for arg in args {
        let (name, file) = match arg.split_once('=') {
            Some((n, f)) => (Some(n), f),
            None => (None, arg.as_str()),
        };
        let bytes = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
        let t = decode_tensor_proto(&bytes, &limits).map_err(|e| format!("{file}: {e}"))?;
        let name = name.unwrap_or(&t.name);
        let id = g
            .inputs
            .iter()
            .copied()
            .find(|&v| g.value(v).name == name)
            .ok_or_else(|| {
                format!(
                    "the model has no input named '{name}' (inputs: {})",
                    names(model, g.inputs.iter().copied())
                )
            })?;
        let value = g.value(id);
        if let Some(declared) = value.dtype
            && declared != t.dtype
        {
            return Err(format!(
                "input '{name}' is {} in {file}, but the model declares {}",
                t.dtype.name(),
                declared.name()
            ));
        }
        if let Some(shape) = &value.shape {
            let fits = shape.len() == t.tensor.rank()
                && shape.iter().zip(t.tensor.shape()).all(|(d, &n)| match d {
                    Dim::Fixed(f) => *f == n as u64,
                    _ => true,
                });
            if !fits {
                return Err(format!(
                    "input '{name}' has shape {:?} in {file}, but the model declares {}",
                    t.tensor.shape(),
                    crate::ir::shape_to_string(Some(shape))
                ));
            }
        }
        if feeds.insert(id, t.tensor).is_some() {
            return Err(format!("input '{name}' is given twice"));
        }
    }
    let missing: Vec<ValueId> = g
        .inputs
        .iter()
        .copied()
        .filter(|v| !feeds.contains_key(v) && g.value(*v).constant.is_none())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "no value for input {}: pass --input NAME=FILE.pb for each, or --head OUTPUT to run one \
             output's head on seeded probes",
            names(model, missing.into_iter())
        ));
    }
    Ok(feeds)
}

fn names(model: &Model, ids: impl Iterator<Item = ValueId>) -> String {
    let v: Vec<String> = ids
        .map(|id| format!("'{}'", model.graph.value(id).name))
        .collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// The file `nnlint eval` writes output `name` to: `<name>.pb` with every character outside `[A-Za-z0-9._-]` replaced by `_`, no leading dot, at
/// most 200 bytes.
pub fn output_file_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(200)
        .collect();
    if s.is_empty() || s.starts_with('.') {
        s.insert(0, '_');
    }
    format!("{s}.pb")
}

/// `file`, or `stem_2.pb`, `stem_3.pb`... when an earlier output already took it.
fn unique(file: String, taken: &mut Vec<String>) -> String {
    let stem = file.trim_end_matches(".pb").to_string();
    let mut candidate = file;
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{stem}_{n}.pb");
        n += 1;
    }
    taken.push(candidate.clone());
    candidate
}

/// Rows whose sums are shown.
const SHOWN_ROWS: usize = 4;

fn summarize(text: &mut String, name: &str, dtype: DType, t: &Tensor, file: Option<&Path>) {
    let _ = writeln!(
        text,
        "{name}: {} {:?}{}",
        dtype.name(),
        t.shape(),
        file.map_or(String::new(), |f| format!(" -> {}", f.display()))
    );
    let v = t.to_f64_vec();
    if v.is_empty() {
        let _ = writeln!(text, "  (no elements)");
        return;
    }
    let nan = v.iter().filter(|x| x.is_nan()).count();
    let finite: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
    let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
    let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let mean = finite.iter().sum::<f64>() / finite.len().max(1) as f64;
    let mut line = if finite.is_empty() {
        "  all NaN".to_string()
    } else {
        format!("  min {}  max {}  mean {}", num(min), num(max), num(mean))
    };
    if nan > 0 && !finite.is_empty() {
        let _ = write!(line, "  ({nan} NaN)");
    }
    let _ = writeln!(text, "{line}");
    let Some(&last) = t.shape().last() else {
        return;
    };
    if last == 0 {
        return;
    }
    let rows = v.len() / last;
    let sums: Vec<String> = v
        .chunks(last)
        .take(SHOWN_ROWS)
        .map(|r| num(r.iter().sum()))
        .collect();
    let which = if rows > SHOWN_ROWS {
        format!(" (first {SHOWN_ROWS} of {rows} rows)")
    } else {
        String::new()
    };
    let _ = writeln!(
        text,
        "  row sums over the last axis{which}: {}",
        sums.join(", ")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_are_sanitized_and_unique() {
        assert_eq!(output_file_name("probs"), "probs.pb");
        assert_eq!(output_file_name("Identity:0"), "Identity_0.pb");
        assert_eq!(output_file_name("../../etc/passwd"), "_.._.._etc_passwd.pb");
        assert_eq!(output_file_name(""), "_.pb");
        assert_eq!(output_file_name("a/b c"), "a_b_c.pb");
        let mut taken = vec![];
        assert_eq!(unique(output_file_name("a:0"), &mut taken), "a_0.pb");
        assert_eq!(unique(output_file_name("a/0"), &mut taken), "a_0_2.pb");
        assert_eq!(unique(output_file_name("a_0"), &mut taken), "a_0_3.pb");
    }

    #[test]
    fn summary_shows_stats_and_row_sums() {
        let t = Tensor::from_f32(
            &[5, 2],
            vec![0.25, 0.75, 0.5, 0.5, 1.0, 0.0, 0.1, 0.9, 0.3, 0.7],
        )
        .unwrap();
        let mut text = String::new();
        summarize(&mut text, "p", DType::F32, &t, Some(Path::new("out/p.pb")));
        assert_eq!(
            text,
            "p: float32 [5, 2] -> out/p.pb\n  min 0  max 1  mean 0.5\n  \
             row sums over the last axis (first 4 of 5 rows): 1, 1, 1, 1\n"
        );
    }
}
