//! Shared by the fuzz targets: what `engine::lint_path` does after loading.

use nnlint::engine::{self, Settings};
use nnlint::ir::Model;
use nnlint::load::LoadError;

pub fn lint(loaded: Result<Model, LoadError>) {
    let Ok(mut model) = loaded else { return };
    nnlint::load::finish(&mut model);
    let mut settings = Settings::default();
    // Fewer probe rows keep each execution fast; the code paths are the same.
    settings.probe.count = 8;
    engine::apply_intents(&mut model, &settings.intents);
    nnlint::intent::infer(&mut model);
    let _ = engine::lint_model(&model, &settings);
}
