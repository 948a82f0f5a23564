//! `nnlint`: thin clap glue over the library.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use nnlint::engine::{self, Settings};
use nnlint::finding::Severity;
use nnlint::registry;
use nnlint::report::{self, OutputFormat, RenderOptions};

#[derive(Parser)]
#[command(
    name = "nnlint",
    version,
    about = "Finds loss/activation/output bugs in neural-network models (ONNX, Keras) and proves them numerically",
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
    Check(CheckArgs),
    /// List every rule.
    Rules,
    /// Print a rule's documentation.
    Explain {
        /// A rule code (NNL001) or name (single-unit-softmax).
        rule: String,
    },
}

#[derive(Args, Clone)]
struct CheckArgs {
    /// Files or directories (searched recursively for model files).
    paths: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "human")]
    format: OutputFormat,
    /// Write the report to this file instead of stdout.
    #[arg(long, short)]
    output: Option<PathBuf>,
    /// Only run these rules (codes or names, comma separated).
    #[arg(long, value_delimiter = ',')]
    select: Vec<String>,
    /// Skip these rules (codes or names, comma separated).
    #[arg(long, value_delimiter = ',')]
    ignore: Vec<String>,
    /// Folder that paths in JSON and SARIF are relative to.
    #[arg(long, default_value = ".")]
    root: PathBuf,
    /// Lowest severity that makes the exit code 1.
    #[arg(long, value_enum, default_value = "warning")]
    fail_on: FailOn,
    /// Seed of the numerical checks' probes.
    #[arg(long)]
    seed: Option<u64>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum FailOn {
    Error,
    Warning,
    Info,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Some(Command::Check(args)) => check(args),
        None => check(cli.check),
        Some(Command::Rules) => {
            for r in registry::all() {
                println!(
                    "{}  {:<40} {:<8} {}",
                    r.code,
                    r.name,
                    r.severity.as_str(),
                    r.summary
                );
            }
            0
        }
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

fn check(args: CheckArgs) -> i32 {
    if args.paths.is_empty() {
        eprintln!("error: no paths given (try `nnlint model.onnx` or `nnlint models/`)");
        return 2;
    }
    for key in args.select.iter().chain(&args.ignore) {
        if !key.eq_ignore_ascii_case("ALL") && registry::find(key).is_none() {
            eprintln!("error: unknown rule `{key}` (see `nnlint rules`)");
            return 2;
        }
    }
    let mut settings = Settings {
        select: args.select.clone(),
        ignore: args.ignore.clone(),
        ..Settings::default()
    };
    if let Some(seed) = args.seed {
        settings.probe.seed = seed;
    }
    let targets = engine::collect_paths(&args.paths);
    let results = engine::lint_targets(&targets, &settings);
    let color = args.output.is_none()
        && std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none();
    let text = report::render(
        args.format,
        &results,
        &RenderOptions {
            color,
            root: args.root.clone(),
        },
    );
    let written = match &args.output {
        Some(file) => std::fs::write(file, &text),
        None => std::io::stdout().write_all(text.as_bytes()),
    };
    if let Err(e) = written {
        eprintln!("error: cannot write the report: {e}");
        return 2;
    }
    let fail_on = match args.fail_on {
        FailOn::Error => Severity::Error,
        FailOn::Warning => Severity::Warning,
        FailOn::Info => Severity::Info,
    };
    engine::exit_code(&results, fail_on)
}
