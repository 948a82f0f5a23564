//! `nnlint`: thin clap glue over the library.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use nnlint::config::{self, SeverityName};
use nnlint::discover;
use nnlint::engine::{self, Overrides};
use nnlint::finding::Severity;
use nnlint::ir::Intent;
use nnlint::registry;
use nnlint::report::{self, OutputFormat, RenderOptions};

const EXAMPLES: &str = "\
Examples:
  nnlint model.onnx                          lint one model
  nnlint models/ --format sarif -o out.sarif lint a tree, write SARIF for code scanning
  nnlint --select NNL00 --ignore NNL009 .    rules by code prefix, minus one
  nnlint --statistics models/                count findings per rule
  nnlint --extend-exclude 'legacy/*' .       skip more than the default folders (venv, build, ...)
  nnlint --diff .                            the fixes as a patch; `nnlint --fix .` applies them
  cat model.json | nnlint - --stdin-filename model.json
  nnlint explain NNL001                      what a rule finds and how to fix it (or: nnlint rule)";

#[derive(Parser)]
#[command(
    name = "nnlint",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("NNLINT_BUILD"), ")"),
    about = "Finds loss/activation/output bugs in neural-network models (ONNX, Keras, PyTorch and Keras \
             Python source, notebooks) and proves them numerically",
    after_help = EXAMPLES,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    check: CheckArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Lint model files or directories (the default command).
    Check(Box<CheckArgs>),
    /// List every rule.
    Rules {
        /// `human` (a table) or `json` (an array of {code, name, severity, summary}).
        #[arg(long, value_enum, default_value = "human")]
        format: InspectFormat,
    },
    /// Show the model as nnlint sees it: inputs, outputs, each head's final activation and logits tensor.
    Inspect {
        file: PathBuf,
        #[arg(long, value_enum, default_value = "human")]
        format: InspectFormat,
        /// Declare an output's intent, as for `check` (NAME=probability|distribution|logits|mask)
        #[arg(long = "output-intent", value_name = "NAME=KIND", value_parser = parse_intent)]
        intents: Vec<(String, Intent)>,
        /// Use this config file instead of the closest nnlint.toml / pyproject.toml
        #[arg(long)]
        config: Option<PathBuf>,
        /// Ignore config files
        #[arg(long)]
        isolated: bool,
        /// A folder first-party Python imports are read from, as for `check` (repeatable)
        #[arg(long, value_name = "DIR")]
        src: Vec<PathBuf>,
    },
    /// Print a rule's documentation (alias: `rule`, as in ruff).
    #[command(alias = "rule")]
    Explain {
        /// A rule code (NNL001) or name (single-unit-softmax).
        rule: String,
    },
    /// Evaluate a model (or one output's head on seeded probes); write each output as a TensorProto.
    Eval(nnlint::cmd::eval::EvalArgs),
}

#[derive(Args, Clone)]
struct CheckArgs {
    /// Files or directories (searched recursively for model files) [default: .]; `-` reads one model
    /// from standard input (with --stdin-filename).
    paths: Vec<PathBuf>,
    /// Report format, e.g. `--format sarif` (alias: --output-format, as in ruff; `full` = human).
    #[arg(long, alias = "output-format", value_enum, default_value = "human")]
    format: OutputFormat,
    /// Name of the model read from `-`: its extension picks the format and its folder the config
    /// file, e.g. `--stdin-filename models/net.json`.
    #[arg(long, value_name = "PATH")]
    stdin_filename: Option<PathBuf>,
    /// Print the number of findings per rule instead of the findings, e.g. `nnlint --statistics
    /// models/` (with `--format json`: a JSON object).
    #[arg(long)]
    statistics: bool,
    /// Exit 0 even when there are findings (2 still means a file could not be read), e.g. to report
    /// without failing a CI job.
    #[arg(long)]
    exit_zero: bool,
    /// Print the findings and nothing else: no summary line, no progress bar, e.g. `-q` in hooks.
    #[arg(long, short, conflicts_with = "verbose")]
    quiet: bool,
    /// Also tell on standard error which files were linted and what the run found, e.g. `-v` to see
    /// what a directory scan picked up.
    #[arg(long, short)]
    verbose: bool,
    /// Colour in human output: `auto` (a terminal without NO_COLOR), `always` or `never`, e.g.
    /// `--color always | less -R`.
    #[arg(long, value_enum, default_value = "auto")]
    color: ColorChoice,
    /// Write the report to this file instead of stdout, e.g. `-o nnlint.sarif` (alias:
    /// --output-file, as in ruff).
    #[arg(long, short, alias = "output-file")]
    output: Option<PathBuf>,
    /// Only run these rules (codes, code prefixes or names, comma separated); replaces the config's
    /// `select`, e.g. `--select NNL001,log-of-softmax` or `--select NNL00`.
    #[arg(long, value_delimiter = ',')]
    select: Option<Vec<String>>,
    /// Also run these rules, e.g. `--extend-select NNL009`.
    #[arg(long, value_delimiter = ',')]
    extend_select: Vec<String>,
    /// Skip these rules (codes, code prefixes or names, comma separated), e.g. `--ignore NNL009`.
    #[arg(long, value_delimiter = ',')]
    ignore: Vec<String>,
    /// Lowest severity that makes the exit code 1 [default: warning], e.g. `--fail-on error`.
    #[arg(long, value_enum)]
    fail_on: Option<SeverityName>,
    /// Declare what an output is: NAME=probability|distribution|logits|mask (repeatable), e.g.
    /// `--output-intent mask=probability`.
    #[arg(long = "output-intent", value_name = "NAME=KIND", value_parser = parse_intent)]
    intents: Vec<(String, Intent)>,
    /// Seed of the numerical checks' probes, e.g. `--seed 7`.
    #[arg(long)]
    seed: Option<u64>,
    /// Rows per probe batch in numerical checks, e.g. `--probe-count 64`.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=65536))]
    probe_count: Option<u64>,
    /// Use this config file (nnlint.toml or pyproject.toml) instead of discovering one per file,
    /// e.g. `--config ci/nnlint.toml`.
    #[arg(long, conflicts_with = "isolated")]
    config: Option<PathBuf>,
    /// Ignore every config file, e.g. to reproduce a finding with the defaults.
    #[arg(long)]
    isolated: bool,
    /// A folder first-party Python imports are read from, after the linted file's own folder
    /// (repeatable, in order; relative to the working directory). Replaces the config's `src` and
    /// the default (the project root found from pyproject.toml, setup.py, setup.cfg or .git, and
    /// its src/), e.g. `--src lib` for a package under lib/ that scripts import.
    #[arg(long, value_name = "DIR")]
    src: Vec<PathBuf>,
    /// Named files that are not models get no note of their own (the summary still names them),
    /// e.g. in a pre-commit hook that passes every `.json`/`.py` file.
    #[arg(long)]
    ignore_non_models: bool,
    /// Files and folders to leave out of directory walks, replacing the default list (venv, build,
    /// node_modules, ...; comma separated globs), e.g. `--exclude 'generated/*,old'`.
    #[arg(long, value_delimiter = ',', value_name = "GLOBS")]
    exclude: Option<Vec<String>>,
    /// Also leave these out, on top of the defaults or `exclude`, e.g. `--extend-exclude legacy`.
    #[arg(long, value_delimiter = ',', value_name = "GLOBS")]
    extend_exclude: Vec<String>,
    /// Apply the exclusions to paths named on the command line too, e.g. in pre-commit, which
    /// names every changed file: `--force-exclude`.
    #[arg(long)]
    force_exclude: bool,
    /// Also lint what .gitignore and .ignore files list, e.g. `--no-respect-gitignore` to lint a
    /// git-ignored export folder.
    #[arg(long)]
    no_respect_gitignore: bool,
    /// Also report findings silenced by suppressions in the model files, e.g. to audit them.
    #[arg(long)]
    show_suppressed: bool,
    /// Print the settings each named file is linted with and the config file they come from,
    /// instead of linting, e.g. `nnlint --show-settings models/net.onnx`.
    #[arg(long)]
    show_settings: bool,
    /// Suppress every current finding where it is: `# nnlint: noqa: CODE` at the end of its line in
    /// Python files and notebooks (merged into an nnlint noqa comment already there), e.g. to adopt
    /// nnlint on a legacy repository: `nnlint --add-noqa .`.
    #[arg(long, conflicts_with_all = ["statistics", "show_settings"])]
    add_noqa: bool,
    /// Apply fixes to resolve findings, then report the findings left, e.g. `nnlint --fix model.py`.
    /// Each file is linted again in memory first: a fix whose finding stays or that adds one is not
    /// applied ("fix not applied: ..."). Add `--unsafe-fixes` to include unsafe fixes.
    #[arg(long, conflicts_with_all = ["add_noqa", "show_settings"])]
    fix: bool,
    /// Include fixes that may change what the code computes elsewhere (each rule's "Fix safety"
    /// says when), e.g. `nnlint --fix --unsafe-fixes .`.
    #[arg(long)]
    unsafe_fixes: bool,
    /// Apply fixes, but do not report on, or exit non-zero for, findings left. Implies `--fix`,
    /// e.g. `nnlint --fix-only .` in a formatting step.
    #[arg(long, conflicts_with_all = ["add_noqa", "show_settings"])]
    fix_only: bool,
    /// Write no file; print a unified diff of each file the fixes would change to stdout, and exit 1
    /// when there is a diff (0 when there is none). Implies `--fix-only`, e.g. `nnlint --diff . |
    /// git apply`.
    #[arg(long, conflicts_with_all = ["add_noqa", "show_settings", "statistics", "output"])]
    diff: bool,
    /// Show on standard error each finding that was fixed (or, with --diff, would be), by file and
    /// rule, e.g. `nnlint --fix --show-fixes .`.
    #[arg(long)]
    show_fixes: bool,
    /// Base URL of the rule pages; SARIF `helpUri` is `<BASE>/<CODE>.md`, e.g. `--docs-url
    /// https://example.org/nnlint/docs/rules`. Without it SARIF carries the full docs as help only.
    #[arg(long, value_name = "BASE")]
    docs_url: Option<String>,
    /// Folder that paths in reports are relative to, e.g. `--root $GITHUB_WORKSPACE`.
    #[arg(long, default_value = ".")]
    root: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum InspectFormat {
    Human,
    Json,
}

/// Shows what `check` sees: the same pipeline (config file, declared intents, inferred intents).
fn inspect(file: &std::path::Path, format: InspectFormat, overrides: &Overrides) -> i32 {
    let path = file.display().to_string();
    let target = engine::Target {
        path: file.to_path_buf(),
        explicit: true,
    };
    let settings = match engine::settings_for(std::slice::from_ref(&target), overrides) {
        Ok(mut s) => s.remove(0),
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    match engine::prepare(file, &settings) {
        Err(e) => {
            eprintln!("error: {path}: {e}");
            2
        }
        Ok(model) => {
            match format {
                InspectFormat::Human => print!("{}", report::inspect::text(&path, &model)),
                InspectFormat::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&report::inspect::json(&path, &model))
                        .unwrap_or_default()
                ),
            }
            0
        }
    }
}

fn parse_intent(s: &str) -> Result<(String, Intent), String> {
    let (name, kind) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=KIND, got `{s}`"))?;
    let intent = match kind {
        "probability" => Intent::Probability,
        "distribution" => Intent::Distribution,
        "logits" => Intent::Logits,
        "mask" => Intent::Mask,
        other => {
            return Err(format!(
                "unknown intent `{other}` (expected probability, distribution, logits or mask)"
            ));
        }
    };
    Ok((name.to_string(), intent))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Some(Command::Check(args)) => check(*args),
        None => check(cli.check),
        Some(Command::Rules { format }) => {
            match format {
                InspectFormat::Human => {
                    for r in registry::all() {
                        println!(
                            "{}  {:<40} {:<8} {}",
                            r.code,
                            r.name,
                            r.severity.as_str(),
                            r.summary
                        );
                    }
                }
                InspectFormat::Json => {
                    let rules: Vec<serde_json::Value> = registry::all()
                        .iter()
                        .map(|r| {
                            serde_json::json!({
                                "code": r.code,
                                "name": r.name,
                                "severity": r.severity.as_str(),
                                "summary": r.summary,
                            })
                        })
                        .collect();
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&rules).unwrap_or_default()
                    );
                }
            }
            0
        }
        Some(Command::Inspect {
            file,
            format,
            intents,
            config,
            isolated,
            src,
        }) => inspect(
            &file,
            format,
            &Overrides {
                intents,
                config,
                isolated,
                src: (!src.is_empty()).then_some(src),
                ..Overrides::default()
            },
        ),
        Some(Command::Eval(args)) => nnlint::cmd::eval::main(&args),
        Some(Command::Explain { rule }) => match registry::find(&rule) {
            Some(r) => {
                print!("{}", registry::doc_page(r));
                0
            }
            None => {
                eprintln!("error: unknown rule `{rule}` (see `nnlint rules`)");
                2
            }
        },
    };
    ExitCode::from(code as u8)
}

/// The subcommands, for the error on a word that is neither a file nor one of them.
const SUBCOMMANDS: &[&str] = &["check", "rules", "rule", "explain", "inspect", "eval"];

/// A path argument that does not exist and looks like a mistyped subcommand (a bare word: no
/// folder, no extension) is a command-line error, as an unknown subcommand would be.
fn unknown_word(paths: &[PathBuf]) -> Option<String> {
    let word = paths.iter().find_map(|p| {
        let s = p.to_str()?;
        let bare = s.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        (bare && !p.exists()).then_some(s)
    })?;
    let closest = SUBCOMMANDS
        .iter()
        .map(|c| (edit_distance(word, c), *c))
        .min()
        .filter(|(d, _)| *d <= 2)
        .map(|(_, c)| format!("; did you mean `nnlint {c}`?"))
        .unwrap_or_default();
    Some(format!(
        "`{word}` is neither a file or folder nor a subcommand (subcommands: check, rules, \
         explain or rule, inspect, eval){closest}"
    ))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn check(mut args: CheckArgs) -> i32 {
    if args.paths.is_empty() {
        // As ruff: no path lints the working directory, or standard input when it is named.
        args.paths = vec![PathBuf::from(if args.stdin_filename.is_some() {
            "-"
        } else {
            "."
        })];
    }
    if let Some(e) = unknown_word(&args.paths) {
        eprintln!("error: {e}");
        return 2;
    }
    for key in args
        .select
        .iter()
        .flatten()
        .chain(&args.extend_select)
        .chain(&args.ignore)
    {
        if let Err(e) = config::check_rule_key(key) {
            eprintln!("error: {e}");
            return 2;
        }
    }
    let overrides = Overrides {
        select: args.select.clone(),
        extend_select: args.extend_select.clone(),
        ignore: args.ignore.clone(),
        fail_on: args.fail_on.map(Severity::from),
        seed: args.seed,
        count: args.probe_count.map(|c| c as usize),
        intents: args.intents.clone(),
        config: args.config.clone(),
        isolated: args.isolated,
        src: (!args.src.is_empty()).then(|| args.src.clone()),
    };
    let stdin = args.paths.iter().any(|p| p.as_os_str() == "-");
    if stdin && args.paths.len() > 1 {
        eprintln!("error: `-` (standard input) cannot be combined with other paths");
        return 2;
    }
    if stdin && args.stdin_filename.is_none() {
        eprintln!(
            "error: reading from `-` needs --stdin-filename NAME (its extension names the format)"
        );
        return 2;
    }
    if args.show_settings {
        return show_settings(&args, &overrides);
    }
    if args.add_noqa && stdin {
        eprintln!("error: --add-noqa edits files; it cannot read standard input");
        return 2;
    }
    let fixing = args.fix || args.fix_only || args.diff;
    if fixing && stdin {
        eprintln!(
            "error: --fix, --fix-only and --diff work on files; they cannot read standard input"
        );
        return 2;
    }
    let discovered = match (&args.stdin_filename, stdin) {
        (Some(name), true) => Ok(discover::Discovered {
            targets: vec![engine::Target {
                path: name.clone(),
                explicit: true,
            }],
            excluded: vec![],
        }),
        _ => discover::discover(
            &args.paths,
            &discover::Options {
                exclude: args.exclude.clone(),
                extend_exclude: args.extend_exclude.clone(),
                force_exclude: args.force_exclude,
                respect_gitignore: args.no_respect_gitignore.then_some(false),
                config: args.config.clone(),
                isolated: args.isolated,
            },
        ),
    };
    let discovered = match discovered {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let targets = discovered.targets;
    // Progress only where a person watches: a terminal on stderr and a human format.
    let human = matches!(args.format, OutputFormat::Human | OutputFormat::Concise);
    let bar = (human
        && !args.quiet
        && !args.verbose
        && targets.len() > 1
        && std::io::stderr().is_terminal())
    .then(|| {
        let bar = indicatif::ProgressBar::new(targets.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} {wide_msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let progress = |path: &std::path::Path| {
        if let Some(bar) = &bar {
            bar.set_message(path.display().to_string());
            bar.inc(1);
        }
    };
    let run = if stdin {
        lint_stdin(&targets[0], &overrides).map(|results| engine::Run {
            results,
            not_models: vec![],
        })
    } else {
        engine::lint_run(&targets, &overrides, &progress)
    };
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let run = match run {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let mut results = run.results;
    let mut fixed_exit = None;
    if fixing {
        (results, fixed_exit) = fix(results, &overrides, &args);
    }
    let color = match args.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            args.output.is_none()
                && std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none()
        }
    };
    if args.verbose {
        verbose_report(&discovered.excluded, &run.not_models, &results, stdin);
        verbose_settings(&results, &overrides);
    }
    if args.add_noqa {
        return add_noqa(&results, &overrides, &args.root);
    }
    if let Some(code) = fixed_exit {
        return code;
    }
    let opts = RenderOptions {
        color,
        root: args.root.clone(),
        show_suppressed: args.show_suppressed,
        docs_url: args.docs_url.clone(),
        quiet: args.quiet,
        width: terminal_width(args.output.is_none()),
        ignore_non_models: args.ignore_non_models,
    };
    let rendered = if args.statistics {
        report::Rendered {
            report: report::statistics(args.format, &results, &args.root),
            errors: String::new(),
        }
    } else {
        report::render(args.format, &results, &opts)
    };
    eprint!("{}", rendered.errors);
    let written = match &args.output {
        Some(file) => std::fs::write(file, &rendered.report),
        None => std::io::stdout().write_all(rendered.report.as_bytes()),
    };
    if let Err(e) = written {
        eprintln!("error: cannot write the report: {e}");
        return 2;
    }
    match engine::exit_code(&results) {
        1 if args.exit_zero => 0,
        code => code,
    }
}

/// `-v`: on standard error, what was left out and why, then each file's status in command-line
/// order, then the totals.
fn verbose_report(
    excluded: &[discover::Excluded],
    not_models: &[(PathBuf, nnlint::load::LoadError)],
    results: &[engine::FileResult],
    stdin: bool,
) {
    for e in excluded {
        eprintln!("nnlint: excluded {} by {}", e.path.display(), e.why);
    }
    for (path, e) in not_models {
        eprintln!("nnlint: skipped {} (not a model: {e})", path.display());
    }
    let from = if stdin { " (from standard input)" } else { "" };
    for r in results {
        let path = r.path.display();
        match &r.outcome {
            Ok(_) => eprintln!("nnlint: linted {path}{from}"),
            Err(e) if e.not_checked => eprintln!("nnlint: not checked {path}: {e}"),
            Err(e) if e.not_a_model => eprintln!("nnlint: skipped {path} (not a model: {e})"),
            Err(e) => eprintln!("nnlint: could not read {path}: {e}"),
        }
    }
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let linted = results.iter().filter(|r| r.outcome.is_ok()).count();
    let findings: usize = results.iter().map(|r| r.findings().len()).sum();
    eprintln!(
        "nnlint: {} linted, {}, {} excluded, {} skipped as not models; {} known",
        plural(linted, "file"),
        plural(findings, "finding"),
        plural(excluded.len(), "path"),
        plural(
            not_models.len() + results.iter().filter(|r| r.skipped().is_some()).count(),
            "file"
        ),
        plural(registry::all().len(), "rule")
    );
}

/// `-v`: which config file each group of files is linted with.
fn verbose_settings(results: &[engine::FileResult], overrides: &Overrides) {
    let targets: Vec<engine::Target> = results
        .iter()
        .map(|r| engine::Target {
            path: r.path.clone(),
            explicit: true,
        })
        .collect();
    let Ok(settings) = engine::settings_for(&targets, overrides) else {
        return;
    };
    let mut by_source: Vec<(String, usize)> = vec![];
    for s in &settings {
        let source = report::show_settings::source(s, overrides);
        match by_source.iter_mut().find(|(k, _)| *k == source) {
            Some((_, n)) => *n += 1,
            None => by_source.push((source, 1)),
        }
    }
    for (source, n) in by_source {
        eprintln!(
            "nnlint: config file for {n} file{}: {source}",
            if n == 1 { "" } else { "s" }
        );
    }
}

/// `--show-settings`: each named path's settings, then where they come from; nothing is linted.
fn show_settings(args: &CheckArgs, overrides: &Overrides) -> i32 {
    let options = discover::Options {
        exclude: args.exclude.clone(),
        extend_exclude: args.extend_exclude.clone(),
        force_exclude: args.force_exclude,
        respect_gitignore: args.no_respect_gitignore.then_some(false),
        config: args.config.clone(),
        isolated: args.isolated,
    };
    let mut out = String::new();
    for (i, path) in args.paths.iter().enumerate() {
        // A folder's settings are those of a file directly in it.
        let target = engine::Target {
            path: if path.is_dir() {
                path.join("(any file)")
            } else {
                path.clone()
            },
            explicit: true,
        };
        let resolved = engine::settings_for(std::slice::from_ref(&target), overrides)
            .map(|mut s| s.remove(0))
            .and_then(|s| discover::exclusions_for(path, &options).map(|x| (s, x)));
        match resolved {
            Ok((settings, exclusions)) => {
                if i > 0 {
                    out.push('\n');
                }
                out.push_str(&report::show_settings::render(
                    &path.display().to_string(),
                    &settings,
                    overrides,
                    &exclusions,
                ));
            }
            Err(e) => {
                eprintln!("error: {e}");
                return 2;
            }
        }
    }
    print!("{out}");
    0
}

/// `--add-noqa`: suppresses the run's findings in the files, then says what it did on standard
/// error. Exit code: 2 when a file could not be read, 1 when findings are left that could not be
/// suppressed, else 0.
fn add_noqa(results: &[engine::FileResult], overrides: &Overrides, root: &std::path::Path) -> i32 {
    use nnlint::cmd::add_noqa::Outcome;
    let targets: Vec<engine::Target> = results
        .iter()
        .map(|r| engine::Target {
            path: r.path.clone(),
            explicit: true,
        })
        .collect();
    let settings = match engine::settings_for(&targets, overrides) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return 2;
        }
    };
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let (mut codes, mut lines, mut files, mut left) = (0, 0, 0, 0);
    for (path, outcome) in nnlint::cmd::add_noqa::add_noqa(results, &settings) {
        let shown = report::display_path(&path, root);
        match outcome {
            Outcome::Edited {
                codes: c,
                lines: l,
                left: why,
            } => {
                codes += c;
                lines += l;
                files += 1;
                for w in &why {
                    left += 1;
                    eprintln!("nnlint: {shown}: not suppressed: {w}");
                }
            }
            Outcome::NotEditable { findings, why } => {
                left += findings;
                eprintln!(
                    "nnlint: {shown}: {} not suppressed: {why}",
                    plural(findings, "finding")
                );
            }
        }
    }
    for r in results {
        if let Some(e) = r.unreadable() {
            eprintln!("error: {}: {e}", report::display_path(&r.path, root));
        }
    }
    let added = if codes == 0 {
        "added no suppression".to_string()
    } else {
        format!(
            "added {} on {} in {}",
            plural(codes, "suppression"),
            plural(lines, "line"),
            plural(files, "file")
        )
    };
    let left = if left > 0 {
        format!("; {} left", plural(left, "finding"))
    } else {
        String::new()
    };
    eprintln!("nnlint: {added}{left}");
    if results.iter().any(|r| r.unreadable().is_some()) {
        2
    } else if !left.is_empty() {
        1
    } else {
        0
    }
}

/// `--fix`, `--fix-only`, `--diff`: applies the fixes (writing the files unless `--diff`), says on
/// standard error what was not applied and why, and returns the results as they are after the
/// fixes. The exit code is returned when the run ends here (`--fix-only`, `--diff`); `--fix` goes on
/// to report the findings left.
fn fix(
    results: Vec<engine::FileResult>,
    overrides: &Overrides,
    args: &CheckArgs,
) -> (Vec<engine::FileResult>, Option<i32>) {
    use nnlint::cmd::fix;
    let targets: Vec<engine::Target> = results
        .iter()
        .map(|r| engine::Target {
            path: r.path.clone(),
            explicit: true,
        })
        .collect();
    let settings = match engine::settings_for(&targets, overrides) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return (results, Some(2));
        }
    };
    let opts = fix::Options {
        unsafe_fixes: args.unsafe_fixes,
    };
    let (mut results, done) = fix::fix_all(results, &settings, opts);
    engine::report_once(&mut results);
    let root = &args.root;
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let mut diffs = String::new();
    for d in &done {
        let shown = report::display_path(&d.path, root);
        for why in &d.not_applied {
            eprintln!("nnlint: {shown}: {why}");
        }
        if let (true, Some((before, after))) = (args.diff, &d.change) {
            diffs.push_str(&fix::unified_diff(&shown, before, after));
        }
    }
    let applied: usize = done.iter().map(|d| d.applied.len()).sum();
    let files = done.iter().filter(|d| d.change.is_some()).count();
    let verb = if args.diff { "would fix" } else { "fixed" };
    if args.show_fixes && applied > 0 {
        for d in done.iter().filter(|d| !d.applied.is_empty()) {
            eprintln!("- {}:", report::display_path(&d.path, root));
            let mut counts: std::collections::BTreeMap<(&str, &str), usize> = Default::default();
            for a in &d.applied {
                *counts.entry((a.code, a.name)).or_default() += 1;
            }
            for ((code, name), n) in counts {
                eprintln!("    {n} × {code} ({name})");
            }
        }
    }
    let hidden: usize = done.iter().map(|d| d.hidden_unsafe).sum();
    if !args.quiet {
        let more = if hidden > 0 {
            let fixes = if hidden == 1 { "fix" } else { "fixes" };
            format!("; {hidden} more {fixes} with --unsafe-fixes")
        } else {
            String::new()
        };
        eprintln!(
            "nnlint: {verb} {} in {}{more}",
            plural(applied, "finding"),
            plural(files, "file")
        );
    }
    if args.diff {
        print!("{diffs}");
    } else if let Err(e) = fix::write(&done) {
        eprintln!("error: {e}");
        return (results, Some(2));
    }
    let unreadable = results.iter().any(|r| r.unreadable().is_some());
    let code = if !(args.diff || args.fix_only) {
        None
    } else if unreadable {
        for r in &results {
            if let Some(e) = r.unreadable() {
                eprintln!("error: {}: {e}", report::display_path(&r.path, root));
            }
        }
        Some(2)
    } else {
        Some(i32::from(args.diff && !diffs.is_empty()))
    };
    (results, code)
}

/// Columns for human output: `COLUMNS` when set, else the terminal's width when writing to one.
fn terminal_width(to_stdout: bool) -> Option<usize> {
    if let Some(cols) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
    {
        return Some(cols.clamp(40, 400));
    }
    if to_stdout && std::io::stdout().is_terminal() {
        return terminal_size::terminal_size().map(|(w, _)| usize::from(w.0).clamp(40, 400));
    }
    None
}

/// Most a model read from standard input may be: larger models are named as files (memory-mapped).
const MAX_STDIN_BYTES: u64 = 256 << 20;

/// Lints the one model on standard input with the settings of `target` (its name).
fn lint_stdin(
    target: &engine::Target,
    overrides: &Overrides,
) -> Result<Vec<engine::FileResult>, config::ConfigError> {
    use std::io::Read;
    let settings = engine::settings_for(std::slice::from_ref(target), overrides)?.remove(0);
    let mut bytes = Vec::new();
    let read = std::io::stdin()
        .take(MAX_STDIN_BYTES + 1)
        .read_to_end(&mut bytes);
    let result = match read {
        Err(e) => engine::FileResult {
            path: target.path.clone(),
            outcome: Err(nnlint::load::LoadError::new(format!(
                "cannot read standard input ({e})"
            ))),
            fail_on: settings.fail_on,
        },
        Ok(_) if bytes.len() as u64 > MAX_STDIN_BYTES => engine::FileResult {
            path: target.path.clone(),
            outcome: Err(nnlint::load::LoadError::new(format!(
                "standard input holds more than {} MiB; name the file instead",
                MAX_STDIN_BYTES >> 20
            ))),
            fail_on: settings.fail_on,
        },
        Ok(_) => engine::lint_bytes(&target.path, bytes, &settings),
    };
    Ok(vec![result])
}
