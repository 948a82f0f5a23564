//! What each graph output is meant to be: probabilities, a class distribution, logits or a mask.
//! Sources, strongest first: the user's declaration (config `[outputs]` or `--output-intent`), the
//! training spec (a loss or metric that consumes probabilities or logits), a consumer in the graph that
//! assumes [0, 1] (ZipMap, a threshold at 0.5), and the output's name — whole tokens only, so `problem`
//! or `probe` never count as `prob`.

use crate::ir::{Graph, Intent, IntentSource, LossKind, Model, TrainingSpec};

/// Name tokens and the intent they suggest.
const NAME_TOKENS: &[(&str, Intent)] = &[
    ("prob", Intent::Probability),
    ("probs", Intent::Probability),
    ("probability", Intent::Probability),
    ("probabilities", Intent::Probability),
    ("confidence", Intent::Probability),
    ("score", Intent::Probability),
    ("scores", Intent::Probability),
    ("sigmoid", Intent::Probability),
    ("softmax", Intent::Distribution),
    ("mask", Intent::Mask),
    ("logit", Intent::Logits),
    ("logits", Intent::Logits),
];

/// Splits `output_probs:0`, `maskProbs`, `Softmax_1` into lower-case word tokens.
pub fn tokens(name: &str) -> Vec<String> {
    let mut out = vec![];
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if !c.is_ascii_alphabetic() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase();
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// The intent a name suggests; the last matching token wins (`logits_to_probs` → probability).
pub fn from_name(name: &str) -> Option<Intent> {
    tokens(name)
        .iter()
        .rev()
        .find_map(|t| NAME_TOKENS.iter().find(|(k, _)| k == t).map(|(_, i)| *i))
}

/// Tokens that name what an output holds firmly enough to stand against the loss: `score` and
/// `scores` are left out, because scores are as often logits as probabilities.
const UNAMBIGUOUS: &[&str] = &[
    "prob",
    "probs",
    "probability",
    "probabilities",
    "confidence",
    "sigmoid",
    "softmax",
    "mask",
    "logit",
    "logits",
];

/// [`from_name`] counting only unambiguous tokens (`mask`, `probs`, …; not `score`).
pub fn from_name_unambiguous(name: &str) -> Option<Intent> {
    let tokens = tokens(name);
    let last = tokens
        .iter()
        .rev()
        .find(|t| NAME_TOKENS.iter().any(|(k, _)| k == t))?;
    UNAMBIGUOUS
        .contains(&last.as_str())
        .then(|| from_name(last))
        .flatten()
}

/// The intent a loss implies for the output it is attached to.
fn from_training(spec: &TrainingSpec, output: usize) -> Option<Intent> {
    // A loss without an output index applies to every output.
    let loss = spec
        .losses
        .iter()
        .find(|l| l.output.is_none_or(|i| i == output))?;
    match loss.kind {
        _ if loss.from_logits => Some(Intent::Logits),
        LossKind::SigmoidCrossEntropyWithLogits => Some(Intent::Logits),
        LossKind::BinaryCrossentropy => Some(Intent::Probability),
        LossKind::CategoricalCrossentropy | LossKind::SparseCategoricalCrossentropy => {
            Some(Intent::Distribution)
        }
        _ => None,
    }
}

/// A consumer that reads the value as a probability: ZipMap (sklearn-style probability maps) or a
/// comparison against 0.5.
fn from_consumer(graph: &Graph, value: crate::ir::ValueId) -> Option<Intent> {
    graph.consumers(value).into_iter().find_map(|c| {
        let op = graph.op(c);
        match op.op_type.as_str() {
            "ZipMap" => Some(Intent::Distribution),
            "Greater" | "GreaterOrEqual" | "Less" | "LessOrEqual" => {
                let other = op.inputs.iter().flatten().find(|&&v| v != value)?;
                let c = graph.value(*other).constant.as_ref()?;
                let is_half = match &c.data {
                    crate::ir::TensorData::Floats(f) => f.len() == 1 && f[0] == 0.5,
                    crate::ir::TensorData::Raw(b) if c.dtype == crate::ir::DType::F32 => {
                        b.len() == 4 && f32::from_le_bytes([b[0], b[1], b[2], b[3]]) == 0.5
                    }
                    _ => false,
                };
                is_half.then_some(Intent::Probability)
            }
            _ => None,
        }
    })
}

/// Fills in intents that nobody declared. Declared intents (already set) are kept.
pub fn infer(model: &mut Model) {
    let n = model.graph.outputs.len();
    for i in 0..n {
        let out = &model.graph.outputs[i];
        if out.intent_source == IntentSource::Declared {
            continue;
        }
        let value = out.value;
        let name = model.graph.value(value).name.clone();
        let found = if let Some(intent) = model.training.as_ref().and_then(|t| from_training(t, i))
        {
            Some((intent, IntentSource::TrainingSpec))
        } else if let Some(intent) = from_consumer(&model.graph, value) {
            Some((intent, IntentSource::Consumer))
        } else if out.name_speaks {
            from_name(&name).map(|intent| (intent, IntentSource::Name(name)))
        } else {
            None
        };
        if let Some((intent, source)) = found {
            let out = &mut model.graph.outputs[i];
            out.intent = intent;
            out.intent_source = source;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_split_on_separators_and_camel_case() {
        assert_eq!(tokens("output_probs:0"), ["output", "probs"]);
        assert_eq!(tokens("maskProbs"), ["mask", "probs"]);
        assert_eq!(tokens("Softmax_1"), ["softmax"]);
        assert_eq!(tokens("HTTPScore"), ["httpscore"]);
    }

    #[test]
    fn unambiguous_names_leave_scores_out() {
        assert_eq!(from_name_unambiguous("mask"), Some(Intent::Mask));
        assert_eq!(
            from_name_unambiguous("seg/mask_probs"),
            Some(Intent::Probability)
        );
        assert_eq!(from_name_unambiguous("score"), None);
        assert_eq!(from_name_unambiguous("mask_scores"), None);
        assert_eq!(from_name_unambiguous("mask_logits"), Some(Intent::Logits));
        assert_eq!(from_name_unambiguous("dense_1"), None);
    }

    #[test]
    fn whole_tokens_only() {
        assert_eq!(from_name("probs"), Some(Intent::Probability));
        assert_eq!(from_name("class_probabilities"), Some(Intent::Probability));
        assert_eq!(from_name("seg_mask"), Some(Intent::Mask));
        assert_eq!(from_name("logits"), Some(Intent::Logits));
        assert_eq!(from_name("softmax_out"), Some(Intent::Distribution));
        for innocent in [
            "problem",
            "probe",
            "scoreboard",
            "masked_lm",
            "output",
            "Identity:0",
            "dense_1",
            "unmasked",
        ] {
            assert_eq!(from_name(innocent), None, "{innocent}");
        }
    }

    #[test]
    fn the_last_token_wins() {
        assert_eq!(from_name("logits_to_probs"), Some(Intent::Probability));
        assert_eq!(from_name("probs_logits"), Some(Intent::Logits));
    }
}
