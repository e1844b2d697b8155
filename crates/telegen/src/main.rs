//! The `telegen` command line. Thin: parses arguments, sets up logging, and calls into
//! the library (`run`, `replay`, `capture::check`, `config`).

use anyhow::Result;
use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "telegen",
    version,
    about = "eBPF network observability: TCP, HTTP, DNS -> Prometheus, OTLP, JSON"
)]
struct Cli {
    /// Log filter (tracing EnvFilter syntax), also from TELEGEN_LOG. The default keeps
    /// the OpenTelemetry SDK's own info-level logs out of the output.
    #[arg(
        long,
        global = true,
        env = "TELEGEN_LOG",
        default_value = "info,opentelemetry=warn,opentelemetry_sdk=warn,opentelemetry_otlp=warn"
    )]
    log: String,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Load the kernel programs and serve telemetry until SIGINT/SIGTERM.
    Run {
        /// YAML configuration file (default: built-in defaults).
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Print every record as one JSON object per line on stdout.
        #[arg(long)]
        json: bool,
    },
    /// Probe what this kernel allows and which features can run.
    Check,
    /// Run a pcap or pcapng file through the same pipeline as live capture.
    Replay {
        /// The capture to replay: a pcap or pcapng file.
        file: PathBuf,
        /// YAML configuration file (default: built-in defaults); its parser, filter and
        /// exporter settings apply as they would live.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// json: one JSON line per record on stdout; otlp: send to the configured OTLP
        /// endpoint.
        #[arg(long, value_enum, default_value = "json")]
        format: ReplayFormat,
        /// Do not show a progress bar.
        #[arg(long)]
        no_progress: bool,
    },
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        cmd: ConfigCmd,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum ReplayFormat {
    /// One JSON object per record on stdout.
    Json,
    /// OTLP traces and logs to the configured endpoint.
    Otlp,
}

#[derive(Subcommand)]
enum ConfigCmd {
    /// Validate a configuration file without loading anything.
    Check {
        /// The YAML configuration file to validate.
        file: PathBuf,
    },
    /// Print the full default configuration, with comments.
    Default,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if !matches!(cli.cmd, Cmd::Run { .. }) {
        // One-shot commands piped into `head` end quietly, as Unix tools do. The agent
        // keeps SIGPIPE ignored: its JSON writer handles a closed stdout itself.
        // SAFETY: setting a signal disposition before any thread is started.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    }
    // Logs go to stderr so stdout stays clean JSON lines.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match dispatch(cli.cmd) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("telegen: error: {}", error_text(&e));
            ExitCode::from(1)
        }
    }
}

/// The error and its causes, each said once: a cause whose text its wrapper already
/// carries (`... file x: No such file or directory`) is not repeated.
fn error_text(e: &anyhow::Error) -> String {
    let mut s = String::new();
    for c in e.chain() {
        let t = c.to_string();
        if t.is_empty() || s.contains(&t) {
            continue;
        }
        if !s.is_empty() {
            s.push_str(": ");
        }
        s.push_str(&t);
    }
    s
}

fn dispatch(cmd: Cmd) -> Result<ExitCode> {
    match cmd {
        Cmd::Run { config, json } => {
            let cfg = load_config(config.as_deref())?;
            let res = telegen::run::run(cfg, telegen::run::RunOptions { json });
            if res.is_err() && !telegen::util::is_root() {
                eprintln!("telegen: not running as root: {NEEDS_PRIVILEGES}");
            }
            res?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Check => {
            let ok = print_probe_report();
            Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(2) })
        }
        Cmd::Replay { file, config, format, no_progress } => {
            let cfg = load_config(config.as_deref())?;
            let fmt = match format {
                ReplayFormat::Json => telegen::replay::Format::Json,
                ReplayFormat::Otlp => telegen::replay::Format::Otlp,
            };
            telegen::replay::replay(&file, cfg, fmt, !no_progress)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Config { cmd: ConfigCmd::Check { file } } => {
            let warnings = telegen::config::check_file(&file)?;
            for w in &warnings {
                eprintln!("warning: {w}");
            }
            println!("{}: ok", file.display());
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Config { cmd: ConfigCmd::Default } => {
            print!("{}", telegen::config::default_yaml());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// File (or defaults), then OTEL_* variables, then validation; errors name key and line.
fn load_config(path: Option<&std::path::Path>) -> Result<telegen::config::Config> {
    Ok(telegen::config::Config::resolve(path, &|k| std::env::var(k).ok())?)
}

/// What loading kernel programs takes.
const NEEDS_PRIVILEGES: &str =
    "loading kernel programs needs root (or CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN and CAP_SYS_RESOURCE)";

/// `telegen check`: one line per hook type, then the verdict on the core features.
fn print_probe_report() -> bool {
    use telegen::capture::check::{core_ok, probe_kernel};
    let root = telegen::util::is_root();
    if !root {
        eprintln!("telegen check: not running as root: {NEEDS_PRIVILEGES}; the probes below fail for that reason, not because of the kernel");
    }
    let results = probe_kernel();
    let w = results.iter().map(|r| r.hook.len()).max().unwrap_or(4).max(4);
    println!("{:<w$} {:<8} used by telegen for", "hook", "result");
    for r in &results {
        let enables = if r.enables.is_empty() {
            "(not used by telegen)".into()
        } else {
            r.enables.join(", ")
        };
        println!("{:<w$} {:<8} {enables}", r.hook, if r.works { "works" } else { "REFUSED" });
        if !r.works {
            println!("{:<w$} {:<8} ({})", "", "", r.detail);
        }
    }
    let ok = core_ok(&results);
    let verdict = match (ok, root) {
        (true, _) => "can run",
        (false, true) => "CANNOT run on this kernel",
        (false, false) => "cannot tell without root",
    };
    println!(
        "\ncore features (TCP connections, RTT, retransmits, socket payload capture): {verdict}"
    );
    ok
}
