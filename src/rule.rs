//! What a rule sees (`RuleContext`) and what it returns (`Detection`). A rule never names its own code,
//! name or severity: the engine stamps them from the registry, which derives them from the rule's file
//! name, so they cannot drift.

use crate::analysis::Probed;
use crate::eval::Limits;
use crate::finding::{Check, Label};
use crate::ir::{Model, ValueId};

/// How numerical checks draw their probes.
#[derive(Clone, Debug)]
pub struct ProbeSettings {
    pub seed: u64,
    /// Rows per probe batch.
    pub count: usize,
    pub limits: Limits,
}

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            seed: 0x6e6e_6c69_6e74,
            count: 256,
            limits: Limits::default(),
        }
    }
}

/// What a rule sees.
pub struct RuleContext<'a> {
    pub model: &'a Model,
    pub probe: &'a ProbeSettings,
}

impl RuleContext<'_> {
    /// Runs the head that ends in `target` on seeded probes; the error is why a check is unconfirmed.
    pub fn probe(&self, target: ValueId) -> Result<Probed, String> {
        crate::analysis::probe(self, target)
    }

    /// The usual numerical check: probe `target`, then judge the values. A probe that cannot run makes
    /// the check unconfirmed with the reason.
    pub fn check_probed(&self, target: ValueId, judge: impl FnOnce(Probed) -> Check) -> Check {
        match self.probe(target) {
            Ok(probed) => judge(probed),
            Err(reason) => Check::Unconfirmed { reason },
        }
    }
}

/// One thing a rule found. The engine turns it into a [`crate::finding::Finding`] with the rule's
/// code, name and (configured) severity.
#[derive(Clone, Debug)]
pub struct Detection {
    /// Lower-case, no trailing period: names the problem and the node or layer.
    pub message: String,
    /// The fix.
    pub help: String,
    /// What the user will observe if the model is trained or shipped like this.
    pub symptom: String,
    /// The first label is the primary location.
    pub labels: Vec<Label>,
    /// Readable path of the primary op (`graph/node` or `model/layer`).
    pub node_path: String,
    pub check: Check,
}
